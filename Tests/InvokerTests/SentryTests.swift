// Crashes reach Sentry: the C fixture crashes with a DSN pointing at a loopback receiver (Python's
// http.server, Tests/Fixtures/sentry/receiver.py); the request is a gzipped envelope POSTed to
// /api/PROJECT/envelope/ with X-Sentry-Auth, holding the event, the text log and the JSON report;
// the event passes Relay's own normalizer (PyPI sentry-relay); with the receiver down the
// envelope waits in the outbox and `invoker send` delivers it; a 429 holds deliveries.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
import TracerKit
@testable import Invoker

/// Relay's normalizer's Python (scripts/install-deps makes this virtual environment).
let relayPython = "/opt/invoker-venv/bin/python"

/// The loopback receiver: answers `statuses` in turn (the last repeats) to at most `requests`
/// POSTs, then exits (also after 30 s, so it never outlives a test).
struct SentryReceiver {
    let process: TestProcess
    let port: Int
    let directory: String

    static func start(requests: Int = 1, statuses: String = "200", delay: Double = 0, answer: String = "json",
                      seconds: Int = 30) throws -> SentryReceiver {
        let directory = makeTemporaryDirectory("sentry-receiver")
        let process = try TestProcess("/usr/bin/python3", [
            packageRoot + "/Tests/Fixtures/sentry/receiver.py", "--dir", directory, "--requests", String(requests),
            "--status", statuses, "--seconds", String(seconds), "--delay", String(delay), "--answer", answer,
        ], outputPath: directory + "/output.txt", reportPipe: true)
        let port = try #require(process.readReportLine().flatMap { Int($0) }, "the receiver did not start")
        return SentryReceiver(process: process, port: port, directory: directory)
    }

    /// A port nothing listens on: a receiver that takes no request closes it at once.
    static func closedPort() throws -> Int {
        let receiver = try start(requests: 0)
        receiver.process.waitForExit()
        return receiver.port
    }

    /// The requests received: (method, path, headers) and the body as sent.
    func requests() throws -> [(meta: JSONValue, body: [UInt8])] {
        try (0..<16).compactMap { index -> (JSONValue, [UInt8])? in
            guard case .success(let meta) = ProcFile.readBytes(directory + "/\(index).json"),
                  case .success(let body) = ProcFile.readBytes(directory + "/\(index).body", limit: 64 << 20) else { return nil }
            return (try JSONValue.decode(meta), body)
        }
    }
}

/// Crashes the fixture (ATS 10.2 payload, segv) with a [sentry] table pointing at `port`.
func crashWithSentry(port: Int, extra: String = "", chain: String = "") throws -> CrasherRun {
    let config = try writeConfiguration(chain + """

        [sentry]
        dsn = "http://publickey@127.0.0.1:\(port)/42"
        environment = "test"
        tags = { lab = "sentry-tests" }
        \(extra)
        """)
    return try CrasherRun.run(payload: "10.2", mode: "segv", extra: ["--config", config])
}

/// The outbox of a run (its report directory's sentry-outbox).
func outbox(of run: CrasherRun) -> Outbox {
    Outbox(path: run.directory + "/sentry-outbox", settings: SentrySettings())
}

/// The event of a gzipped envelope, and its items' headers.
func unpack(_ gzipped: [UInt8]) throws -> (event: JSONValue, eventBytes: [UInt8], items: [JSONValue]) {
    let bytes = try #require(Gzip.decompress(gzipped), "not gzip")
    let envelope = try SentryEnvelope.parse(bytes)
    let event = try #require(envelope.items.first { $0.header["type"] == "event" })
    return (try JSONValue.decode(event.payload), event.payload, envelope.items.map(\.header))
}

/// `invoker send …` with the configuration of the run in `directory`.
func invokerSend(_ arguments: [String], config: String, directory: String) throws -> (status: Int32, output: String) {
    try runInvoker(["send", "--config", config, "--log-dir", directory] + arguments)
}

@Suite(.serialized, .timeLimit(.minutes(2)),
       .enabled(if: ptraceUnavailableReason() == nil,
                "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct SentryTests {
    @Test func aCrashReachesTheReceiverAsAGzippedEnvelopeWithTheEventTheLogAndTheReport() throws {
        let receiver = try SentryReceiver.start()
        let run = try crashWithSentry(port: receiver.port)
        #expect(run.terminatingSignal == SIGSEGV)
        let requests = try receiver.requests()
        #expect(requests.count == 1)
        let request = try #require(requests.first)
        #expect(request.meta["path"] == "/api/42/envelope/")
        let headers = try #require(request.meta["headers"])
        #expect(headers["Content-Type"] == "application/x-sentry-envelope")
        #expect(headers["Content-Encoding"] == "gzip")
        #expect(headers["X-Sentry-Auth"]?.stringValue
                == "Sentry sentry_key=publickey, sentry_version=7, sentry_client=invoker/\(InvokerCommand.version)")

        let (event, _, items) = try unpack(request.body)
        let log = try #require(run.logs.first)
        #expect(items.map { $0["type"] } == ["event", "attachment", "attachment"])
        #expect(items.dropFirst().map { $0["filename"]?.stringValue } == [log, String(log.dropLast(4)) + ".json"])
        #expect(event["platform"] == "native" && event["level"] == "fatal" && event["environment"] == "test")
        #expect(event["tags"]?["signal"] == "SIGSEGV" && event["tags"]?["fault_kind"] == "null-dereference")
        #expect(event["tags"]?["lab"] == "sentry-tests")
        let exception = try #require(event["exception"]?["values"]?.arrayValue?.first)
        #expect(exception["mechanism"]?["meta"]?["signal"] == ["number": 11, "code": 1, "name": "SIGSEGV", "code_name": "SEGV_MAPERR"])
        #expect(exception["mechanism"]?["data"]?["relevant_address"] == "0x0")
        // Oldest first: the fault is the last frame.
        let functions = exception["stacktrace"]?["frames"]?.arrayValue?.compactMap { $0["function"]?.stringValue } ?? []
        #expect(Array(functions.suffix(4)) == ["main", "fixture_crash_outer", "fixture_crash_middle", "fixture_crash_segv"])
        #expect(exception["stacktrace"]?["frames"]?.arrayValue?.last?["trust"] == "context")
        #expect(exception["stacktrace"]?["registers"]?["rip"] != nil)
        let threads = try #require(event["threads"]?["values"]?.arrayValue)
        #expect(threads.count == 4)
        for worker in threads where worker["crashed"] == false {
            let names = worker["stacktrace"]?["frames"]?.arrayValue?.compactMap { $0["function"]?.stringValue } ?? []
            #expect(Array(names.reversed()).containsRun(ATSHandshakeTests.workerStack), "\(names)")
        }
        // The fixture's debug image: code_id is readelf's build-id, debug_id Sentry's rule on it.
        let images = try #require(event["debug_meta"]?["images"]?.arrayValue)
        let fixture = try #require(images.first { $0["code_file"]?.stringValue?.hasSuffix("/ats-crasher") == true })
        let buildID = try #require(try readelfBuildID(builtProduct("ats-crasher")))
        #expect(fixture["type"] == "elf" && fixture["code_id"]?.stringValue == buildID)
        #expect(fixture["debug_id"]?.stringValue == DebugIdentifier.debugID(buildID: buildID))

        // Delivered: no envelope left, a record with Sentry's event id, and `send --list` shows it.
        let box = outbox(of: run)
        #expect(box.pending().isEmpty)
        let record = try #require(box.sentRecords().first)
        #expect(record.sentryEventID == "0123456789abcdef0123456789abcdef" && record.status == 200)
        #expect(record.report == run.directory + "/" + log)
        #expect(fileMode(box.sentDirectory + "/" + record.name + ".json") == 0o600)
        // And `invoker list` shows Sentry's event id beside the crash (the crash store's row).
        let listed = try runInvoker(["list", "--log-dir", run.directory])
        #expect(listed.status == 0 && listed.output.contains("event 0123456789abcdef0123456789abcdef"), "\(listed.output)")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test(.enabled(if: access(relayPython, X_OK) == 0,
                   "Relay's normalizer is not installed (scripts/install-deps puts sentry-relay in /opt/invoker-venv)"))
    func theEventWithVariablesPassesRelaysNormalizerWithoutErrors() throws {
        let port = try SentryReceiver.closedPort()
        let run = try crashWithSentry(port: port, chain: "[[tracer]]\nuse = \"unwind\"\n\n[[tracer]]\nuse = \"variables\"\n")
        let entry = try #require(outbox(of: run).pending().first)
        let (event, eventBytes, _) = try unpack(try #require(outbox(of: run).envelope(of: entry)))
        let frames = event["exception"]?["values"]?.arrayValue?.first?["stacktrace"]?["frames"]?.arrayValue ?? []
        #expect(frames.contains { $0["vars"] != nil }, "the variables tracer ran: some frame has vars")
        let directory = makeTemporaryDirectory("sentry-normalize")
        try TrafficServerSandbox.write(String(decoding: eventBytes, as: UTF8.self), to: directory + "/event.json")
        let normalizer = try TestProcess(relayPython, [packageRoot + "/Tests/Fixtures/sentry/normalize.py", directory + "/event.json", "42"],
                                         outputPath: directory + "/normalized.json")
        let status = normalizer.waitForExit()
        let output = readFile(directory + "/normalized.json") ?? ""
        let normalized = try JSONValue.decode(Array(output.utf8))
        #expect(status == 0, "\(normalized["errors"] ?? .null)")
        #expect(normalized["errors"] == nil)
        #expect(normalized["platform"] == "native" && normalized["level"] == "fatal")
        #expect(normalized["exception"]?["values"]?.arrayValue?.first?["mechanism"]?["type"] == "signalhandler")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func withTheReceiverDownTheEnvelopeWaitsInTheOutboxAndInvokerSendDeliversIt() throws {
        let port = try SentryReceiver.closedPort()
        let run = try crashWithSentry(port: port)
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(run.log?.crashingThread?.functions.first == "fixture_crash_segv", "the report is intact")
        let box = outbox(of: run)
        let entry = try #require(box.pending().first)
        #expect(entry.attempts == 1)
        #expect(entry.lastError?.hasPrefix("cannot reach Sentry at http://127.0.0.1:\(port)/api/42/envelope/") == true)
        #expect(fileMode(box.pendingDirectory + "/" + entry.name + ".envelope.gz") == 0o600)
        #expect(fileMode(box.path) == 0o700)

        let config = try writeConfiguration("[sentry]\ndsn = \"http://publickey@127.0.0.1:\(port)/42\"\n")
        let dry = try invokerSend(["--dry-run"], config: config, directory: run.directory)
        #expect(dry.status == 0 && dry.output.contains("would send \(entry.report ?? "?") (event \(entry.eventID)"), "\(dry.output)")

        // The receiver is back (on another port: the operator fixed the DSN).
        let receiver = try SentryReceiver.start()
        let fixed = try writeConfiguration("[sentry]\ndsn = \"http://publickey@127.0.0.1:\(receiver.port)/42\"\n")
        let sent = try invokerSend([], config: fixed, directory: run.directory)
        #expect(sent.status == 0)
        #expect(sent.output.contains("sent \(entry.report ?? "?"): Sentry event 0123456789abcdef0123456789abcdef"), "\(sent.output)")
        receiver.process.waitForExit()
        let (event, _, _) = try unpack(try #require(try receiver.requests().first).body)
        #expect(event["event_id"]?.stringValue == entry.eventID)
        #expect(box.pending().isEmpty)
        let listed = try invokerSend(["--list"], config: fixed, directory: run.directory)
        #expect(listed.output.contains("0123456789abcdef0123456789abcdef  HTTP 200  \(entry.report ?? "?")"), "\(listed.output)")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func a429WithRetryAfterHoldsDeliveriesUntilItExpires() throws {
        let limiting = try SentryReceiver.start(requests: 1, statuses: "429")
        let run = try crashWithSentry(port: limiting.port)
        let box = outbox(of: run)
        let entry = try #require(box.pending().first)
        #expect(entry.lastError?.contains("answered HTTP 429, retry after 30 s") == true, "\(entry.lastError ?? "")")
        // X-Sentry-Rate-Limits said 30 s for errors: nothing goes before then.
        let until = box.rateLimitedUntil()
        let now = Int(time(nil))
        #expect(until > now && until <= now + 31)
        #expect(entry.nextAttempt == until)

        let receiver = try SentryReceiver.start()
        let config = try writeConfiguration("[sentry]\ndsn = \"http://publickey@127.0.0.1:\(receiver.port)/42\"\n")
        let held = try invokerSend([], config: config, directory: run.directory)
        #expect(held.status == 0 && held.output.contains("waiting until "), "\(held.output)")
        #expect(try receiver.requests().isEmpty)
        #expect(box.pending().count == 1)
        // An operator may override it.
        let forced = try invokerSend(["--force"], config: config, directory: run.directory)
        #expect(forced.output.contains("sent "), "\(forced.output)")
        receiver.process.waitForExit()
        #expect(try receiver.requests().count == 1)
        #expect(box.pending().isEmpty)
        #expect(leftoverProcesses().isEmpty)
    }

    /// External tracers keep the server until they have run; a slow Sentry must not keep it
    /// longer: the helper forks before it makes the envelope, and the server dies meanwhile.
    @Test func aSlowSentryNeverLengthensTheDowntimeEvenWithExternalTracers() throws {
        let receiver = try SentryReceiver.start(delay: 4)
        let config = try writeConfiguration("""
            [[tracer]]
            use = "unwind"

            [[tracer]]
            name = "echo"
            exec = ["/bin/echo", "external ran"]

            [sentry]
            dsn = "http://publickey@127.0.0.1:\(receiver.port)/42"
            """)
        let directory = makeTemporaryDirectory()
        adoptOrphans()
        let start = Deadline.now()
        let crasher = try TestProcess(builtProduct("ats-crasher"), [
            "--helper", builtProduct("invoker"), "--payload", "10.2", "--threads", "2", "--mode", "segv",
            "--", "--log-dir", directory, "--config", config,
        ], outputPath: directory + "/output.txt")
        let status = crasher.waitForExit()
        let downtime = Deadline.now().seconds(since: start)
        reapAllChildren()
        #expect(status & 0x7f == SIGSEGV)
        #expect(downtime < 4, "the server waited \(downtime) s: it was held for the network")
        // Delivered all the same, by the forked helper.
        let box = Outbox(path: directory + "/sentry-outbox", settings: SentrySettings())
        #expect(box.sentRecords().count == 1)
        let log = try #require(directoryEntries(directory).first { $0.hasSuffix(".log") && $0.hasPrefix("crash-") })
        #expect(readFile(directory + "/" + log)?.contains("external ran") == true)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aServersSentryDSNIsRedactedInTheReport() throws {
        let sleeper = try TestProcess("/bin/sleep", ["30"], environment: ["SENTRY_DSN": "https://s3cr3tkey@sentry.example/1"])
        defer { sleeper.finish() }
        sleeper.waitUntilSleeping()
        let directory = makeTemporaryDirectory()
        let (status, output) = try runInvoker(["snapshot", "--pid", String(sleeper.pid), "--output", directory])
        #expect(status == 0, "\(output)")
        let json = try #require(directoryEntries(directory).first { $0.hasSuffix(".json") }.flatMap { readFile(directory + "/" + $0) })
        #expect(json.contains("SENTRY_DSN=<redacted>"))
        #expect(!json.contains("s3cr3tkey"))
        sleeper.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func sendHelpListsItsOptionsInTheManual() throws {
        let manual = try #require(readFile(packageRoot + "/man/invoker.8"))
        let (_, output) = try runInvoker(["send", "--help"])
        for option in ["--dry-run", "--print", "--list", "--force", "--report", "--config", "--log-dir"] {
            #expect(output.contains(option))
            #expect(manual.contains("Fl " + option.dropFirst().replacingAll("-", with: "\\-")), "\(option) is not in invoker.8")
        }
    }
}

/// The GNU build-id of an ELF file as readelf -n prints it.
func readelfBuildID(_ path: String) throws -> String? {
    let directory = makeTemporaryDirectory()
    let readelf = try TestProcess("/usr/bin/readelf", ["-n", path], outputPath: directory + "/notes.txt")
    readelf.waitForExit()
    return readFile(directory + "/notes.txt")?.split(separator: "\n")
        .first { $0.contains("Build ID:") }?.split(separator: " ").last.map(String.init)
}
