#!/usr/bin/env python3
"""A loopback stand-in for Sentry's envelope endpoint, for the Sentry tests.

Listens on 127.0.0.1 (an ephemeral port, written as one line to descriptor 3), answers the next
--requests POSTs with the --status codes in turn (the last one repeats), saves each request as
DIR/N.json (method, path, headers) and DIR/N.body (the body as received), and exits after
--requests requests or --seconds seconds, whichever comes first. HTTP is Python's http.server's.
"""
import argparse
import http.server
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--requests", type=int, default=1)
parser.add_argument("--status", default="200")
parser.add_argument("--seconds", type=float, default=60)
parser.add_argument("--delay", type=float, default=0, help="seconds to wait before answering (a slow Sentry)")
parser.add_argument("--answer", default="json", choices=["json", "garbage", "not-http", "silent", "date-retry"],
                    help="json: Sentry's answer; garbage: 200 with a body that is not JSON; not-http: bytes "
                         "that are no HTTP response; silent: the request is read, never answered; "
                         "date-retry: 503 with Retry-After as an HTTP date")
args = parser.parse_args()
statuses = [int(s) for s in args.status.split(",")]
served = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = len(served)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(args.dir, f"{n}.body"), "wb") as f:
            f.write(body)
        with open(os.path.join(args.dir, f"{n}.json"), "w") as f:
            json.dump({"method": "POST", "path": self.path, "headers": dict(self.headers.items())}, f)
        time.sleep(args.delay)
        if args.answer == "not-http":
            self.wfile.write(b"\x00\x01garbage, not a status line\r\n\r\n")
            self.close_connection = True
            served.append(n)
            return
        if args.answer == "silent":
            time.sleep(args.seconds)
            served.append(n)
            return
        if args.answer == "garbage":
            reply = b"<html>\x00\xff{not json"
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            served.append(n)
            return
        if args.answer == "date-retry":
            self.send_response(503)
            self.send_header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.send_header("Content-Length", "0")
            self.end_headers()
            served.append(n)
            return
        status = statuses[min(n, len(statuses) - 1)]
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "30")
            self.send_header("X-Sentry-Rate-Limits", "30:error;attachment:project")
        reply = json.dumps({"id": "0123456789abcdef0123456789abcdef"} if status == 200 else {"detail": "slow down"}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        served.append(n)

    def log_message(self, *_):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
server.timeout = 0.5
os.write(3, f"{server.server_address[1]}\n".encode())
end = time.monotonic() + args.seconds
while len(served) < args.requests and time.monotonic() < end:
    server.handle_request()
server.server_close()
