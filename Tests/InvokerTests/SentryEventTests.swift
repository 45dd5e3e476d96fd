// The Sentry event, one layer at a time: the DSN and the [sentry] table (with file, line and key
// for a bad one), Sentry's debug_id rule, the mapping from a JSON report (frames oldest first,
// trust, symbol addresses, the fingerprint, redaction), the limits (250 frames per stack,
// max_event_bytes) and the envelope's framing and gzip.

import FoundationEssentials
import TestSupport
import Testing
@testable import Invoker

/// A small JSON report (schema invoker-report/1) with a crashing thread of `frames` frames
/// (innermost first, named f0, f1, …) whose top frame has `variables`, and one other thread.
func sampleReport(frames: Int = 4, variables: [(String, String)] = [], fingerprint: String? = "fp1:abc",
                  kind: String = "crash") -> [UInt8] {
    func frame(_ index: Int, _ vars: [(String, String)] = []) -> JSONValue {
        var members: [String: JSONValue] = [
            "index": .integer(Int64(index)), "pc": .string("0x" + String(0x401000 + index * 16, radix: 16)),
            "sp": "0x7ffd0000", "recovery": index == 0 ? "context" : (index == 1 ? "cfi" : "frame-pointer"),
            "signal_frame": false, "inlined": false, "module": "/usr/bin/traffic_server",
            "build_id": "f1c3bcc0279865fe3058404b2831d9e64135386c", "function": .string("f\(index)"),
            "function_offset": "0x8", "file": "/src/proxy/f.cc", "line": .integer(Int64(10 + index)),
        ]
        if !vars.isEmpty {
            members["variables"] = .array(vars.map { ["name": .string($0.0), "kind": "local", "type": "char *", "value": .string($0.1)] })
        }
        return .object(members)
    }
    var fault: JSONValue = [
        "signal": ["number": 11, "name": "SIGSEGV", "description": "Segmentation fault"],
        "code": ["value": 1, "meaning": "SEGV_MAPERR (address not mapped to object)"],
        "address": "0x0", "payload": "ats-10.2", "crashing_thread": 100,
        "registers": ["rip": "0x401000", "rsp": "0x7ffd0000"],
        "classification": ["kind": "null-dereference", "summary": "a null pointer was dereferenced", "evidence": []],
    ]
    if let fingerprint, case .object(var members) = fault {
        members["fingerprint"] = .string(fingerprint)
        fault = .object(members)
    }
    var document: [String: JSONValue] = [
        "schema": "invoker-report/1", "generator": ["name": "invoker", "version": "0.2.0"], "kind": .string(kind),
        "time": "2026-12-03T08:00:00Z", "time_unix": 1_796_284_800, "host": ["hostname": "proxy-7"],
        "process": ["pid": 100, "name": "[ET_NET 0]", "executable": "/usr/bin/traffic_server", "server_version": "Traffic Server 9.2.9",
                    "command_line": ["/usr/bin/traffic_server", "--password=hunter2", "--token", "abc", "-M"]],
        "threads": [
            ["tid": 100, "name": "[ET_NET 0]", "crashed": true,
             "frames": .array((0..<frames).map { frame($0, $0 == 0 ? variables : []) })],
            ["tid": 101, "name": "[ET_NET 1]", "crashed": false, "registers": ["rip": "0x401100"],
             "frames": [frame(0), frame(1)]],
        ],
        "modules": [["path": "/usr/bin/traffic_server", "build_id": "f1c3bcc0279865fe3058404b2831d9e64135386c",
                     "start": "0x400000", "end": "0x500000"]],
        "sections": [:], "tracers": [], "problems": [], "timing": [],
    ]
    if kind == "crash" { document["fault"] = fault }
    return JSONValue.object(document).encoded()
}

func mapSample(_ report: [UInt8], settings: SentrySettings = SentrySettings()) throws -> JSONValue {
    let mapper = SentryEventMapper(settings: settings, clientVersion: "9.9.9")
    return mapper.fittedEvent(from: try ReportDocument.decode(report), eventID: String(repeating: "a", count: 32)).event
}

@Suite(.timeLimit(.minutes(1))) struct SentryEventTests {
    @Test func dsnGivesTheEnvelopeEndpointAndTheAuthHeader() throws {
        let dsn = try SentryDSN("https://0123abcd@o1.ingest.sentry.io/4505")
        #expect(dsn.envelopeURL == "https://o1.ingest.sentry.io/api/4505/envelope/")
        #expect(dsn.authHeader(clientVersion: "1.2") == "Sentry sentry_key=0123abcd, sentry_version=7, sentry_client=invoker/1.2")
        // A self-hosted Sentry under a path prefix, on its own port.
        let selfHosted = try SentryDSN("http://key@sentry.internal:9000/sentry/7")
        #expect(selfHosted.envelopeURL == "http://sentry.internal:9000/sentry/api/7/envelope/")
        #expect(selfHosted.redacted == "http://***@sentry.internal:9000/sentry/7")
    }

    @Test(arguments: [
        ("sentry.example/1", "it is not a URL"),
        ("ftp://k@host/1", "the scheme must be https (or http for a local relay), not ftp"),
        ("https://host/1", "it has no public key"),
        ("https://k@host/", "its path must end with the numeric project id"),
        ("https://k@host/project", "its path must end with the numeric project id"),
    ])
    func malformedDSNsAreRefusedWithTheReason(dsn: String, reason: String) {
        #expect {
            _ = try SentryDSN(dsn)
        } throws: { error in
            "\(error)" == "not a usable Sentry DSN: " + reason || "\(error)".hasPrefix("not a usable Sentry DSN: " + reason)
        }
    }

    @Test func sentryTableLoadsEveryKey() throws {
        let configuration = try ConfigurationLoader.parse("""
            deadline = 5

            [sentry]
            dsn = "https://k@sentry.example/42"
            environment = "production"
            release = "trafficserver@%v"
            server_name = "edge-1"
            tags = { region = "eu", tier = "edge" }
            send_snapshots = true
            attachments = ["json"]
            max_event_bytes = 500000
            in_app = ["traffic_server", "libtscore"]
            outbox = "/var/spool/invoker/sentry"
            outbox_max_entries = 10
            outbox_max_bytes = 2000000
            outbox_max_age_days = 3
            connect_timeout = 2
            timeout = 5
            """, file: "invoker.conf")
        let sentry = try #require(configuration.sentry)
        #expect(sentry.dsn?.projectID == "42")
        #expect(sentry.environment == "production" && sentry.release == "trafficserver@%v" && sentry.serverName == "edge-1")
        #expect(sentry.tags == ["region": "eu", "tier": "edge"])
        #expect(sentry.sendSnapshots && sentry.attachments == [.json] && sentry.maxEventBytes == 500_000)
        #expect(sentry.inApp == ["traffic_server", "libtscore"] && sentry.outbox == "/var/spool/invoker/sentry")
        #expect(sentry.outboxMaxEntries == 10 && sentry.outboxMaxBytes == 2_000_000 && sentry.outboxMaxAgeDays == 3)
        #expect(sentry.connectTimeout == 2 && sentry.timeout == 5)
    }

    @Test(arguments: [
        ("[sentry]\nenvironment = \"x\"\ndsn = \"https://sentry.example/42\"\n",
         "invoker.conf:3: sentry.dsn: not a usable Sentry DSN: it has no public key (write it as https://KEY@HOST/PROJECT)"),
        ("[sentry]\ndsn = \"https://k@sentry.example/42\"\nattachment = [\"log\"]\n",
         "invoker.conf:3: sentry.attachment: not a Sentry setting (did you mean `attachments`?)"),
        ("[sentry]\nattachments = [\"core\"]\n",
         "invoker.conf:2: sentry.attachments: \"core\" is not an attachment; use \"log\" and/or \"json\" (or [] for none)"),
        ("[[tracer]]\nuse = \"unwind\"\n\n[sentry]\nmax_event_bytes = 5000000\n",
         "invoker.conf:5: sentry.max_event_bytes: must be an integer from 16384 to 1000000"),
    ])
    func badSentrySettingsNameFileLineAndKey(text: String, message: String) {
        #expect {
            _ = try ConfigurationLoader.parse(text, file: "invoker.conf")
        } throws: { error in
            (error as? ConfigurationError)?.description == message
        }
    }

    @Test func dsnComesFromTheEnvironmentWhenTheFileHasNone() throws {
        let settings = try SentrySettings().resolved(environment: ["SENTRY_DSN": "https://k@h/3"])
        #expect(settings?.dsn?.projectID == "3")
        #expect(try SentrySettings().resolved(environment: [:]) == nil)
        #expect(throws: SentryDSNError.self) { try SentrySettings().resolved(environment: ["SENTRY_DSN": "nonsense"]) }
    }

    /// Sentry's documented example (docs: "Debug Information Files", identifiers) and a short
    /// build-id, padded with zeros.
    @Test func debugIDFollowsSentrysRule() {
        #expect(DebugIdentifier.debugID(buildID: "f1c3bcc0279865fe3058404b2831d9e64135386c") == "c0bcc3f1-9827-fe65-3058-404b2831d9e6")
        #expect(DebugIdentifier.debugID(buildID: "abcd") == "0000cdab-0000-0000-0000-000000000000")
        #expect(DebugIdentifier.debugID(buildID: "xyz") == nil)
    }

    @Test func crashMapsToANativeFatalEventWithTheStackOldestFirst() throws {
        var settings = SentrySettings()
        settings.release = "trafficserver@%v"
        let event = try mapSample(sampleReport(variables: [("request", "0x1234"), ("api_password", "hunter2")]), settings: settings)
        #expect(event["release"] == "trafficserver@9.2.9" && event["tags"]?["ats_version"] == "9.2.9")
        #expect(event["contexts"]?["app"]?["app_version"] == "9.2.9")
        #expect(event["platform"] == "native" && event["level"] == "fatal")
        #expect(event["fingerprint"] == ["fp1:abc"])
        #expect(event["tags"]?["signal"] == "SIGSEGV" && event["tags"]?["fault_kind"] == "null-dereference")
        let exception = try #require(event["exception"]?["values"]?.arrayValue?.first)
        #expect(exception["type"] == "SIGSEGV" && exception["thread_id"] == 100)
        #expect(exception["mechanism"] == [
            "type": "signalhandler", "synthetic": true, "handled": false, "description": "Segmentation fault",
            "meta": ["signal": ["number": 11, "code": 1, "name": "SIGSEGV", "code_name": "SEGV_MAPERR"]],
            "data": ["relevant_address": "0x0"],
        ])
        let frames = try #require(exception["stacktrace"]?["frames"]?.arrayValue)
        #expect(frames.map { $0["function"]?.stringValue } == ["f3", "f2", "f1", "f0"])
        #expect(frames.map { $0["trust"]?.stringValue } == ["fp", "fp", "cfi", "context"])
        let top = try #require(frames.last)
        #expect(top["instruction_addr"] == "0x401000" && top["symbol_addr"] == "0x400ff8" && top["image_addr"] == "0x400000")
        #expect(top["package"] == "/usr/bin/traffic_server" && top["filename"] == "f.cc" && top["abs_path"] == "/src/proxy/f.cc")
        #expect(top["lineno"] == 10 && top["in_app"] == true)
        #expect(top["vars"] == ["request": "0x1234", "api_password": "<redacted>"])
        #expect(exception["stacktrace"]?["registers"] == ["rip": "0x401000", "rsp": "0x7ffd0000"])
        let threads = try #require(event["threads"]?["values"]?.arrayValue)
        #expect(threads.map { $0["id"] } == [100, 101])
        #expect(threads[0]["crashed"] == true && threads[0]["stacktrace"] == nil)
        #expect(threads[1]["stacktrace"]?["frames"]?.arrayValue?.count == 2)
        #expect(event["debug_meta"]?["images"] == [[
            "type": "elf", "code_file": "/usr/bin/traffic_server", "code_id": "f1c3bcc0279865fe3058404b2831d9e64135386c",
            "debug_id": "c0bcc3f1-9827-fe65-3058-404b2831d9e6", "image_addr": "0x400000", "image_size": 0x100000,
        ]])
        #expect(event["contexts"]?["invoker"]?["command_line"] == [
            "/usr/bin/traffic_server", "--password=<redacted>", "--token", "<redacted>", "-M",
        ])
    }

    @Test func noFingerprintNoSentryFingerprintAndSnapshotsAreWarnings() throws {
        let event = try mapSample(sampleReport(fingerprint: nil, kind: "snapshot"))
        #expect(event["fingerprint"] == nil)
        #expect(event["level"] == "warning" && event["exception"] == nil)
        #expect(event["threads"]?["values"]?.arrayValue?.first?["stacktrace"]?["frames"]?.arrayValue?.count == 4)
    }

    @Test func aDeepStackKeepsItsInnermostAndOutermostFramesAndSaysSo() throws {
        let event = try mapSample(sampleReport(frames: 1000))
        let frames = try #require(event["exception"]?["values"]?.arrayValue?.first?["stacktrace"]?["frames"]?.arrayValue)
        #expect(frames.count == 250)
        // Oldest first: the 50 outermost (f999…f950), then the 200 innermost (f199…f0).
        #expect(frames.first?["function"] == "f999" && frames[49]["function"] == "f950")
        #expect(frames[50]["function"] == "f199" && frames.last?["function"] == "f0")
        #expect(event["contexts"]?["invoker"]?["cut"] == [
            "thread 100: 750 of its 1000 frames were left out (the innermost and outermost are kept)",
        ])
    }

    @Test func anEventOverItsSizeCapLosesVariablesFirstAndSaysSo() throws {
        let big = (0..<40).map { ("v\($0)", String(repeating: "x", count: 500)) }
        var settings = SentrySettings()
        settings.maxEventBytes = 16_384
        let report = sampleReport(frames: 8, variables: big)
        let mapper = SentryEventMapper(settings: settings, clientVersion: "9.9.9")
        let (event, bytes) = mapper.fittedEvent(from: try ReportDocument.decode(report), eventID: String(repeating: "b", count: 32))
        #expect(bytes.count <= 16_384)
        let top = event["exception"]?["values"]?.arrayValue?.first?["stacktrace"]?["frames"]?.arrayValue?.last
        #expect(top?["vars"] == nil && top?["function"] == "f0")
        #expect(event["contexts"]?["invoker"]?["cut"]?.arrayValue?.first == "to stay under 16384 bytes, left out: all variables")
        // The same report under the default cap keeps them (each capped at 512 characters).
        let full = try mapSample(report)
        let vars = full["exception"]?["values"]?.arrayValue?.first?["stacktrace"]?["frames"]?.arrayValue?.last?["vars"]?.objectValue
        #expect(vars?.count == 40 && vars?["v0"]?.stringValue?.count == 500)
    }

    @Test func envelopeFramesItsItemsAndSurvivesGzip() throws {
        var envelope = SentryEnvelope(eventID: "c0ffee", event: Array(#"{"a":1}"#.utf8))
        envelope.attach(Array("log\ntext\n".utf8), filename: "crash.log", contentType: "text/plain")
        let bytes = envelope.encoded(sentAt: "2026-12-03T08:00:00Z")
        #expect(String(decoding: bytes, as: UTF8.self) == """
            {"event_id":"c0ffee","sent_at":"2026-12-03T08:00:00Z"}
            {"length":7,"type":"event"}
            {"a":1}
            {"attachment_type":"event.attachment","content_type":"text/plain","filename":"crash.log","length":9,"type":"attachment"}
            log
            text


            """)
        let zipped = try #require(Gzip.compress(bytes))
        #expect(Array(zipped.prefix(2)) == [0x1f, 0x8b])
        #expect(Gzip.decompress(zipped) == bytes)
        let parsed = try SentryEnvelope.parse(bytes)
        #expect(parsed.items.map { String(decoding: $0.payload, as: UTF8.self) } == [#"{"a":1}"#, "log\ntext\n"])
    }

    @Test func rateLimitHeadersAndBackoff() {
        let limited = SentryResponse(status: 429, retryAfter: 30, rateLimits: "60:error;attachment:organization, 3600:transaction:project", body: "")
        #expect(SentryForwarder.rateLimit(limited, now: 1000) == 1060)
        let retryAfterOnly = SentryResponse(status: 429, retryAfter: 30, rateLimits: nil, body: "")
        #expect(SentryForwarder.rateLimit(retryAfterOnly, now: 1000) == 1030)
        #expect(SentryForwarder.rateLimit(SentryResponse(status: 500, body: ""), now: 1000) == nil)
        #expect((1...12).map(SentryForwarder.backoff) == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600])
    }
}

@Suite(.timeLimit(.minutes(1))) struct SentryDocumentationTests {
    @Test func everySentryKeyIsDocumentedAndTheExampleLoads() throws {
        let manual = try #require(readFile(packageRoot + "/man/invoker.conf.5"))
        let example = try #require(readFile(packageRoot + "/invoker.conf.example"))
        for key in ConfigurationLoader.sentryKeys {
            #expect(manual.contains("Li \(key)"), "\(key) is not in invoker.conf.5")
            #expect(example.contains("# \(key) = "), "\(key) is not in invoker.conf.example")
        }
        // The example's commented [sentry] table, uncommented, is a valid configuration.
        let table = example.split(separator: "\n").drop { $0 != "# [sentry]" }.map { $0.dropFirst(2) }.joined(separator: "\n")
        let sentry = try #require(try ConfigurationLoader.parse(table, file: "invoker.conf.example").sentry)
        #expect(sentry.dsn?.host == "sentry.example.com" && sentry.inApp.count == 3)
    }
}

@Suite(.timeLimit(.minutes(1))) struct OutboxTests {
    @Test func theOutboxIsBoundedByCountBytesAndAgeDroppingTheOldestFirst() throws {
        var settings = SentrySettings()
        settings.outboxMaxEntries = 2
        let box = Outbox(path: makeTemporaryDirectory("outbox") + "/sentry-outbox", settings: settings)
        let envelope = [UInt8](repeating: 7, count: 1000)
        _ = try box.add(envelope: envelope, eventID: "a1a1a1a1", report: "/r/1.log", baseName: "crash-1", now: 1000)
        _ = try box.add(envelope: envelope, eventID: "b2b2b2b2", report: "/r/2.log", baseName: "crash-2", now: 1001)
        let (third, dropped) = try box.add(envelope: envelope, eventID: "c3c3c3c3", report: "/r/3.log", baseName: "crash-3", now: 1002)
        #expect(dropped == ["crash-1-a1a1a1a1: the outbox holds at most 2 envelopes and 52428800 bytes"])
        #expect(box.pending().map(\.name) == ["crash-2-b2b2b2b2", third.name])
        #expect(box.envelope(of: third) == envelope)
        #expect(fileMode(box.pendingDirectory + "/" + third.name + ".envelope.gz") == 0o600)
        // A week later the old ones go, never the one being added.
        let (_, aged) = try box.add(envelope: envelope, eventID: "d4d4d4d4", report: nil, baseName: "crash-4", now: 1002 + 8 * 86_400)
        #expect(aged == ["crash-2-b2b2b2b2: older than 7 days", "crash-3-c3c3c3c3: older than 7 days"])
        #expect(box.pending().map(\.name) == ["crash-4-d4d4d4d4"])
        // A delivery is recorded for `invoker send --list` (and the report's listing).
        let entry = try #require(box.pending().first)
        try box.markSent(entry, record: SentRecord(name: entry.name, eventID: entry.eventID, sentryEventID: "ffff", report: "/r/4.log",
                                                    sent: 2000, status: 200, url: "https://h/api/1/envelope/"))
        #expect(box.pending().isEmpty)
        #expect(box.sentRecord(forReport: "/r/4.log")?.sentryEventID == "ffff")
    }
}
