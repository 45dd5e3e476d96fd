#!/usr/bin/env python3
"""browser-check: open an HTML file in headless Chromium and report what a reader's browser did.

    browser-check.py PAGE.html SCREENSHOT.png

Drives Debian's chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3
carries our commands, fd 4 its answers, each message JSON ended by a NUL byte), with the Python
standard library only. Prints one JSON object on standard output:

    requests      every URL the page requested (the page itself included)
    console       console messages, uncaught exceptions and browser log entries (CSP violations)
    text          document.body.innerText once loaded
    scripts       how many <script> elements the DOM has
    screenshots   the PNG files written: SCREENSHOT (1280 px wide) and SCREENSHOT-phone.png (390 px)

Exits 2 on a protocol failure; everything is bounded by a 60 s alarm.
"""
import base64, ctypes, json, os, shutil, signal, subprocess, sys, tempfile

PR_SET_CHILD_SUBREAPER = 36

def reap_descendants():
    """Chromium leaves helpers (crashpad, zygotes) that outlive it: as their subreaper we
    inherit them; kill what still runs and reap everything, so nothing is left behind."""
    while True:
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as file:
                        fields = file.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == os.getpid():
                    children.append(int(entry))
        if not children:
            return
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for child in children:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass

def main():
    page, screenshot = os.path.abspath(sys.argv[1]), sys.argv[2]
    signal.alarm(60)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    commands_read, commands_write = os.pipe()
    answers_read, answers_write = os.pipe()
    profile = tempfile.mkdtemp(prefix="browser-check.")
    def child_descriptors():
        # Copies first: a pipe end may itself be 3 or 4, and dup2 onto itself keeps close-on-exec.
        ours, theirs = os.dup(commands_read), os.dup(answers_write)
        os.dup2(ours, 3)
        os.dup2(theirs, 4)
        os.set_inheritable(3, True)
        os.set_inheritable(4, True)
    browser = subprocess.Popen(
        ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-sync", "--disable-component-update", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        close_fds=False, preexec_fn=child_descriptors)
    os.close(commands_read)
    os.close(answers_write)
    pending = b""
    events = []
    next_id = [0]

    def send(method, params=None, session=None):
        next_id[0] += 1
        message = {"id": next_id[0], "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(commands_write, json.dumps(message).encode() + b"\0")
        while True:
            answer = receive()
            if answer.get("id") == next_id[0]:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            events.append(answer)

    def receive():
        nonlocal pending
        while b"\0" not in pending:
            chunk = os.read(answers_read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            pending += chunk
        message, _, pending = pending.partition(b"\0")
        return json.loads(message)

    def wait_for(method):
        for index, event in enumerate(events):
            if event.get("method") == method:
                del events[index]
                return event
        while True:
            event = receive()
            if event.get("method") == method:
                return event
            events.append(event)

    try:
        target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ["Page", "Runtime", "Log", "Network"]:
            send(domain + ".enable", session=session)
        send("Page.navigate", {"url": "file://" + page}, session=session)
        wait_for("Page.loadEventFired")
        evaluate = lambda expression: send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                           session=session)["result"].get("value")
        text = evaluate("document.body.innerText")
        scripts = evaluate("document.getElementsByTagName('script').length")
        shots = []
        for path, width in [(screenshot, 1280), (screenshot[:-len(".png")] + "-phone.png", 390)]:
            send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}, session=session)
            shot = send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}, session=session)
            with open(path, "wb") as file:
                file.write(base64.b64decode(shot["data"]))
            shots.append(path)
        # Whatever was queued while we worked.
        send("Runtime.evaluate", {"expression": "0"}, session=session)
        requests, console = [], []
        for event in events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled":
                console.append(params["type"] + ": " + " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"]))
            elif method == "Runtime.exceptionThrown":
                console.append("exception: " + params["exceptionDetails"].get("text", ""))
            elif method == "Log.entryAdded":
                console.append(params["entry"]["level"] + ": " + params["entry"]["text"])
        print(json.dumps({"requests": requests, "console": console, "text": text, "scripts": scripts, "screenshots": shots}))
        try:
            send("Browser.close")
        except RuntimeError:
            pass
    except (RuntimeError, KeyError, OSError) as error:
        print(json.dumps({"error": str(error)}))
        browser.kill()
        return 2
    finally:
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        reap_descendants()
        shutil.rmtree(profile, ignore_errors=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
