// The JSON report's one model (ReportDocument) and the formats: a written report decodes and
// encodes back to the same bytes; it decodes to the document it was written from; it validates
// against the published schema; section keys are snake-cased by JSONEncoder's own rule; a
// document without schema, process or threads does not decode, and a minimal one does; every
// format is one formatter, and the writer writes the configured ones only. Real captures round-trip in ReportViewTests,
// CollectorTests and VariablesTests (expectRoundTrip).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import TestSupport
import Testing
import TracerKit
@testable import Invoker

/// A report with every part the JSON report has: a fault from a process's signal (sender,
/// registers, classification), a fingerprint and occurrence, threads with inlined and signal
/// frames and variables, globals, Traffic Server records, modules, sections with flags, groups,
/// lists, numbers and /proc's capitalised keys, tracer runs, problems and timing notes.
func completeReport() -> CrashReport {
    var registers = Registers()
    registers.rip = 0x401136; registers.rsp = 0x7ffd_0000_1000; registers.rbp = 0x7ffd_0000_1040
    var fault = FaultContext(pid: 100, crashingThread: 100,
                             signal: SignalInfo(number: SIGSEGV, code: 1, address: 0x8), registers: registers, payloadVersion: .ats10_2)
    fault.serverBacktrace = "crash_here\nmain\n"
    fault.classification = FaultClassification(kind: .nullDereference, summary: "null pointer dereference (read of 0x8)",
                                               evidence: ["SIGSEGV with SEGV_MAPERR (address not mapped to object)"])
    var report = constructedServerReport()
    report.fault = fault
    report.hostTriplet = "x86_64-pc-linux-gnu"
    report.time = 1_796_281_067
    report.processName = "[TS_MAIN]"
    report.serverVersion = "Traffic Server 9.2.9"
    report.threads[0].registers = registers
    report.threads[0].unwindStop = "the stack pointer left the stack"
    // Frame 0 has one inlined level (a row of its own in the JSON); main is a signal trampoline.
    report.threads[0].frames[0].symbol.buildID = "f1c3bcc0279865fe3058404b2831d9e64135386c"
    report.threads[0].frames[0].symbol.moduleOffset = 0x1136
    report.threads[0].frames[0].symbol.functionOffset = 0x6
    report.threads[0].frames[0].inlined = [InlinedCall(function: "inline_helper", file: "server.c", line: 7, column: 7, variables: [
        Variable(name: "request", kind: "parameter", type: "struct request *", value: "0x0",
                 note: "points at the faulting address 0x0", pointee: nil, scope: "inline_helper"),
    ])]
    report.threads[0].frames[1].isSignalFrame = true
    report.threads[0].frames[1].recovery = .signalContext
    report.globals = [Variable(name: "g_config", kind: "global", type: "int", value: "42", scope: "/usr/bin/server")]
    report.configurationRecords = ["proxy.config.http.server_ports 8080", "proxy.process.http.incoming_requests 12"]
    report.modules = [LoadedModule(path: "/usr/bin/server", start: 0x400000, end: 0x500000, buildID: "f1c3bcc0279865fe3058404b2831d9e64135386c"),
                      LoadedModule(path: "/usr/lib/x86_64-linux-gnu/libc.so.6", start: 0x7f00_0000_0000, end: 0x7f00_0020_0000, buildID: nil)]
    report.sections = [
        ReportSection(id: "system", title: "System", fields: [
            Field("memory_kb", .group([Field("MemTotal", .integer(16_000_000)), Field("Committed_AS", .integer(9))])),
            Field("cpu_time_percent_since_boot", .group([Field("user", .number(12.5))])),
            Field("pressure", .group([Field("cpu", .list(["some avg10=0.00", "full avg10=0.00"]))])),
        ], problems: ["/proc/pressure/io: ENOENT"]),
        ReportSection(id: "process", title: "Process Details", fields: [
            Field("open_descriptors", .integer(90), flag: "at 90 % of the open files limit (100)"),
            Field("VmRSS", .integer(1024)),
            Field("dumpable", .flag(true)),
            Field("environment", .list(["PATH=/bin"])),
        ]),
    ]
    report.tracerRuns = [TracerRun(name: "unwind", seconds: 0.012, outcome: "ok"),
                         TracerRun(name: "gdb", command: ["/usr/bin/gdb", "-p", "100"], seconds: 1.5, exitStatus: 0,
                                   outcome: "exited with status 0", output: "#0 crash_here ()\n")]
    report.problems = ["thread 1400 could not be stopped: ESRCH (No such process)"]
    report.notes = ["stop: 1 ms", "unwind: 3 ms"]
    report.fingerprint = Fingerprint(value: "fp1:0123456789abcdef", basis: ["SIGSEGV", "null-dereference", "server!crash_here"])
    report.occurrence = Occurrence(state: .repeat, groupCount: 3, compact: false, detail: "seen 3 times since 2026-12-01")
    return report
}

extension ReportDocument {
    /// The report file's text (`encoded()`), to compare with a file read as text.
    func encodedText() -> String { String(decoding: encoded(), as: UTF8.self) }
}

/// Checks that the JSON report at `jsonPath` decodes and encodes back to its very bytes.
func expectRoundTrip(jsonPath: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let written = try #require(readFile(jsonPath), sourceLocation: sourceLocation)
    let document = try ReportDocument.decode(Array(written.utf8))
    #expect(document.encodedText() == written, "\(jsonPath) does not encode back to its bytes", sourceLocation: sourceLocation)
}

@Suite(.timeLimit(.minutes(1))) struct ReportDocumentTests {
    static let options = ReportFormatOptions(kind: "crash", helperVersion: "test")

    @Test func aWrittenReportDecodesToItsDocumentAndEncodesBackToItsBytes() throws {
        let report = completeReport()
        let written = JSONReportFormatter(options: Self.options).render(report)
        let decoded = try ReportDocument.decode(Array(written.utf8))
        #expect(decoded == ReportDocument(report: report, kind: "crash", helperVersion: "test"))
        #expect(decoded.encodedText() == written)
        // What the parts became, by the schema's names.
        #expect(decoded.fault?.crashingThread == 100 && decoded.fault?.address == "0x8" && decoded.fault?.payload == "ats-10.2")
        #expect(decoded.fault?.fingerprint == "fp1:0123456789abcdef" && decoded.occurrence?.state == "repeat")
        #expect(decoded.threads[0].frames.map(\.inlined) == [true, false, false])
        #expect(decoded.threads[0].frames.map(\.function) == ["inline_helper", "crash_here", "main"])
        #expect(decoded.threads[0].frames.map(\.index) == [0, 1, 2])
        // Read back, the inlined row is a level of its physical frame again.
        #expect(decoded.threads[0].threadReport.frames == report.threads[0].frames.map { var frame = $0; frame.registers = FrameRegisters(); return frame })
        #expect(decoded.threads[0].frames.map(\.recovery) == ["cfi", "cfi", "signal-context"])
        #expect(decoded.threads[0].frames[2].signalFrame)
        #expect(decoded.threads[0].frames[0].variables?.first?.scope == "inline_helper")
        #expect(decoded.threadGroups?.map(\.count) == [1, 1, 1, 2, 84])
        #expect(decoded.trafficServerRecords?["proxy.config.http.server_ports"] == "8080")
        #expect(decoded.sections["system"]?.fields["memory_kb"] == .object(["mem_total": .integer(16_000_000), "committed__as": .integer(9)]))
        #expect(decoded.sections["process"]?.fields["open_descriptors"]
                    == .object(["value": .integer(90), "flag": .string("at 90 % of the open files limit (100)")]))
        #expect(decoded.sections["process"]?.fields["vm_rss"] == .integer(1024))
        #expect(decoded.sections["process"]?.problems == nil && decoded.sections["system"]?.problems?.count == 1)
        #expect(written.contains("\"build_id\": \"f1c3bcc0279865fe3058404b2831d9e64135386c\""))
        #expect(written.contains("\"/usr/bin/server\""), "slashes are not escaped")
    }

    @Test func theWrittenReportValidatesAgainstTheSchema() throws {
        let directory = makeTemporaryDirectory()
        let path = directory + "/crash.json"
        try JSONReportFormatter(options: Self.options).render(completeReport()).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try schemaComplaint(reportPath: path) == nil)
        try expectRoundTrip(jsonPath: path)
    }

    @Test func aSnapshotWithNothingOptionalRoundTrips() throws {
        let report = CrashReport(pid: 7, executable: "/bin/sleep", commandLine: ["sleep", "60"], hostTriplet: nil, time: 0, fault: nil)
        let written = JSONReportFormatter(options: ReportFormatOptions(kind: "snapshot", helperVersion: "test")).render(report)
        let decoded = try ReportDocument.decode(Array(written.utf8))
        #expect(decoded.encodedText() == written)
        #expect(decoded.kind == "snapshot" && decoded.fault == nil && decoded.globals == nil && decoded.threads.isEmpty)
        #expect(!written.contains("\"fault\"") && !written.contains("\"globals\""))
    }

    /// A whole number in a `number` field is written as JSON writes it ("50") and comes back as
    /// an integer; the bytes stay the same.
    @Test func aWholeNumberOfAFloatingPointFieldKeepsItsBytes() throws {
        var report = completeReport()
        report.sections[0].fields[1] = Field("cpu_time_percent_since_boot", .group([Field("idle", .number(50))]))
        let written = JSONReportFormatter(options: Self.options).render(report)
        #expect(written.contains("\"idle\": 50\n"))
        #expect(try ReportDocument.decode(Array(written.utf8)).encodedText() == written)
    }

    /// A reader needs `schema`, `process.pid` and `threads`; without one of them a document is not a report.
    @Test(arguments: ["schema", "process", "threads"])
    func aDocumentWithoutSchemaProcessOrThreadsDoesNotDecode(field: String) throws {
        let written = JSONReportFormatter(options: Self.options).render(completeReport())
        var object = try #require(try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any])
        object[field] = nil
        let bytes = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: DecodingError.self) { try ReportDocument.decode(Array(bytes)) }
    }

    /// Without the rest (the minimal document `invoker show` renders), lists and maps read as
    /// empty, and what the Sentry event cannot do without is named.
    @Test func aMinimalDocumentDecodesWithEmptyListsAndNamesWhatItLacks() throws {
        let json = #"{"schema": "invoker-report/1", "process": {"pid": 7}, "threads": []}"#
        let document = try ReportDocument.decode(Array(json.utf8))
        #expect(document.modules.isEmpty && document.sections.isEmpty && document.tracers.isEmpty && document.problems.isEmpty)
        #expect(document.timing.isEmpty && document.process.commandLine.isEmpty)
        #expect(document.missingTopLevelFields == ["generator", "kind", "time", "time_unix", "host", "process.executable"])
        let written = try ReportDocument.decode(Array(JSONReportFormatter(options: Self.options).render(completeReport()).utf8))
        #expect(written.missingTopLevelFields.isEmpty)
    }

    @Test func fieldsANewerWriterAddsAreIgnored() throws {
        let written = JSONReportFormatter(options: Self.options).render(completeReport())
        var object = try #require(try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any])
        object["added_in_a_later_version"] = ["anything": [1, 2]]
        let decoded = try ReportDocument.decode(Array(try JSONSerialization.data(withJSONObject: object)))
        #expect(decoded == (try ReportDocument.decode(Array(written.utf8))))
    }

    /// The section keys of earlier reports were converted by JSONEncoder's key strategy; ours
    /// must agree on every key /proc gives the collectors, and on the odd cases.
    @Test func sectionKeysAreSnakeCasedByJSONEncodersRule() throws {
        var keys = ["MemTotal", "Committed_AS", "VmRSS", "HugePages_Total", "DirectMap4k", "ShmemPMDMapped", "ABCd", "aBC",
                    "sNaN", "_x", "x_", "__aB__", "a__b", "a1B", "mem_total", "", "A", "Active(anon)", "a B", "ÉtéÀ"]
        for file in ["/proc/meminfo", "/proc/self/status", "/proc/vmstat"] {
            keys += (readFile(file) ?? "").split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }
        }
        keys = keys.map { $0.split(separator: " ").first.map(String.init) ?? $0 }
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        struct Probe: Encodable {
            var key: String
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(0, forKey: Key(stringValue: key))
            }
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        for key in Set(keys) {
            let object = try JSONDecoder().decode([String: Int].self, from: encoder.encode(Probe(key: key)))
            #expect(object.keys.first == key.snakeCased, "\(key)")
        }
        #expect(keys.count > 100)
    }
}

@Suite(.timeLimit(.minutes(1))) struct ReportFormatTests {
    /// Each format is a case with its own extension and a formatter that renders the report.
    @Test(arguments: ReportFormat.allCases)
    func everyFormatHasAFormatterAndAnExtensionOfItsOwn(format: ReportFormat) throws {
        let report = completeReport()
        let rendered = format.formatter(ReportFormatOptions(kind: "crash", helperVersion: "test")).render(report)
        #expect(rendered.contains("crash_here"))
        #expect(ReportFormat.allCases.filter { $0.fileExtension == format.fileExtension } == [format])
    }

    @Test func theWriterWritesTheConfiguredFormatsOnlyEachByItsFormatter() throws {
        let report = completeReport()
        for formats in [[ReportFormat.json], [.text], [.json, .text]] {
            let directory = makeTemporaryDirectory()
            let writer = ReportWriter(directory: LogDirectory(path: directory, source: "test"), formats: formats, retention: 0, prefix: "crash",
                                      time: report.time, logger: Logger(label: "test"))
            let location = try #require(writer.writeFinal(report, replacing: nil))
            #expect(Set(location.paths.keys) == Set(formats))
            #expect(ProcFile.entries(of: directory).count == formats.count)
            for format in formats {
                #expect(readFile(location.paths[format]!) == writer.render(format, report))
            }
        }
        #expect(ReportFormat.namesForMessage == "\"text\" or \"json\"")
    }
}
