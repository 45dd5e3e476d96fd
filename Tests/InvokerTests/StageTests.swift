// The capture stages and the report assembler on a constructed snapshot (InMemoryProcessSnapshot):
// collectors return their sections, the fault is classified from the snapshot alone, the
// assembler puts each stage's product where the report expects it and keeps the sentences in the
// order they arose, and the built-in registry is the one description of every built-in.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing
import TracerKit
import Tracers
@testable import Invoker

@Suite(.timeLimit(.minutes(1)))
struct StageTests {
    /// A dispatcher that writes nowhere (its stages are run directly).
    static var dispatcher: Dispatcher {
        Dispatcher(configuration: Configuration(), outputDirectory: LogDirectory(path: "/tmp", source: "test", problem: nil),
                   serverUser: nil, hostTriplet: nil, toStandardOutput: true, logger: Logger(label: "test"))
    }

    /// Our own process (its /proc entries are real), seen through a constructed snapshot.
    static func ownSnapshot(fault: FaultContext? = nil) -> InMemoryProcessSnapshot {
        InMemoryProcessSnapshot(
            pid: getpid(), executable: "/usr/sbin/example-server",
            commandLine: ["/usr/sbin/example-server", "--password", "hunter2", "--port", "8080"],
            threads: [ThreadSnapshot(tid: getpid(), name: "main", registers: Registers(), isCrashing: true),
                      ThreadSnapshot(tid: getpid() + 1, name: "worker", registers: Registers())],
            mappings: MemoryMapping.parse("""
                00400000-00401000 r-xp 00000000 fd:01 12 /usr/sbin/example-server
                00600000-00602000 rw-p 00000000 00:00 0 [heap]
                7ffe0000-7fff0000 rw-p 00000000 00:00 0 [stack]
                """),
            fault: fault)
    }

    @Test func collectorsReturnTheirSectionsInChainOrderFromTheSnapshot() {
        let stages: [BuiltinStage] = [.collector(ProcessInfoTracer()), .collector(SystemStatsTracer())]
        var capture = CaptureRecord(pid: getpid(), executable: "?", hostTriplet: nil, time: 0, fault: nil, isSnapshot: true)
        Self.dispatcher.runStages(stages, on: Self.ownSnapshot(), into: &capture, deadline: Deadline.now().adding(seconds: 30))
        #expect(capture.sections.map(\.id) == ["process", "system"])
        #expect(capture.runs.map(\.name) == ["process", "sysstats"])
        #expect(capture.stacks == nil && capture.variables == nil)
        let process = capture.sections[0].fields
        #expect(process.first { $0.key == "executable" }?.value == .text("/usr/sbin/example-server"))
        #expect(process.first { $0.key == "threads" }?.value == .integer(2))
        // The password's value is redacted; the rest of the command line is kept.
        #expect(process.first { $0.key == "command_line" }?.value
                == .list(["/usr/sbin/example-server", "--password", Redactor.marker, "--port", "8080"]))
        // Three mappings of three kinds, from the snapshot's map (not the process's).
        guard case .group(let summary)? = process.first(where: { $0.key == "mappings_summary" })?.value else {
            Issue.record("no mappings_summary in \(process)")
            return
        }
        #expect(summary.map(\.key) == ["file", "heap", "stack", "total_mappings"])
        #expect(summary.last?.value == .integer(3))
    }

    @Test func theFaultIsClassifiedFromTheSnapshotAlone() {
        var registers = Registers()
        registers.rsp = 0x7ffe_8000
        let null = Self.ownSnapshot(fault: FaultContext(pid: getpid(), crashingThread: getpid(),
                                                        signal: SignalInfo(number: SIGSEGV, code: 1, address: 0x10), registers: registers))
        #expect(Dispatcher.classification(of: null)?.kind == .nullDereference)
        let sent = Self.ownSnapshot(fault: FaultContext(pid: getpid(), signal: SignalInfo(number: SIGSEGV, code: 0, senderPID: getpid())))
        let classification = Dispatcher.classification(of: sent)
        #expect(classification?.kind == .sentSignal)
        #expect(classification?.summary.hasPrefix("SIGSEGV sent by process \(getpid()) (") == true)
        #expect(Dispatcher.classification(of: Self.ownSnapshot()) == nil)
    }

    /// A capture as the stopped window leaves it: two threads unwound, variables of the crashing
    /// thread's second frame, a global, sentences from before and during the stages.
    static var capture: CaptureRecord {
        var capture = CaptureRecord(pid: 40, executable: "/usr/sbin/example-server", hostTriplet: "x86_64-pc-linux-gnu",
                                    time: 1_700_000_000, fault: FaultContext(pid: 40, crashingThread: 41), isSnapshot: false)
        capture.commandLine = ["/usr/sbin/example-server"]
        capture.processStatus = "Name:\texample-server\n"
        let frames = [Frame(index: 0, pc: 0x401000, stackPointer: 0x7ffe_8000, recovery: .faultContext),
                      Frame(index: 1, pc: 0x401100, stackPointer: 0x7ffe_8010, recovery: .callFrameInfo)]
        capture.stacks = UnwoundStacks(threads: [
            ThreadReport(tid: 41, name: "worker", isCrashing: true, registers: nil, frames: frames),
            ThreadReport(tid: 40, name: "main", isCrashing: false, registers: nil, frames: Array(frames.prefix(1))),
        ])
        let count = Variable(name: "count", kind: "local", type: "int", value: "3")
        capture.variables = CapturedVariables(frames: [41: [1: FrameVariables(own: [count])]],
                                              globals: [Variable(name: "state", kind: "global", type: "int", value: "1")])
        capture.sections = [ReportSection(id: "request", title: "Snapshot Request", fields: [])]
        capture.runs = [TracerRun(name: "unwind", seconds: 0.001, outcome: "completed")]
        capture.problems = ["first."]
        capture.notes = ["stopped 2 threads in 1 ms"]
        return capture
    }

    @Test func theAssemblerPutsEachProductInItsPlace() {
        let report = ReportAssembler.assemble(Self.capture)
        #expect(report.pid == 40 && report.executable == "/usr/sbin/example-server" && report.time == 1_700_000_000)
        #expect(report.threads.map(\.tid) == [41, 40])
        // Variables go on the frame they were read from, and nowhere else.
        #expect(report.threads[0].frames.map { $0.variables.map(\.name) } == [[], ["count"]])
        #expect(report.threads[1].frames.allSatisfy { $0.variables.isEmpty })
        #expect(report.globals.map(\.name) == ["state"])
        #expect(report.sections.map(\.id) == ["request"])
        #expect(report.tracerRuns.map(\.name) == ["unwind"])
        #expect(report.processStatus == "Name:\texample-server\n")
        #expect(report.fingerprint == nil && report.occurrence == nil && !report.isSnapshot)
    }

    @Test func symbolizedStacksReplaceTheUnwoundOnesAndTheirSentencesComeLast() {
        var capture = Self.capture
        let fingerprint = Fingerprint.compute(signal: SIGSEGV, faultKind: "null-dereference", frames: [])
        capture.loop = (fingerprint, Occurrence(state: .loop, groupCount: 9, compact: true))
        var named = capture.unwoundThreads
        named[0].frames[0].symbol.function = "crash_here"
        let symbolized = SymbolizedStacks(threads: named, remarks: StageRemarks(problems: ["second."], notes: ["unwind: 3 distinct addresses symbolized in 1 ms"]))
        let report = ReportAssembler.assemble(capture, symbolized: symbolized)
        #expect(report.threads[0].frames[0].function == "crash_here")
        #expect(report.threads[0].frames[1].variables.map(\.name) == ["count"])
        #expect(report.problems == ["first.", "second."])
        #expect(report.notes == ["stopped 2 threads in 1 ms", "unwind: 3 distinct addresses symbolized in 1 ms"])
        #expect(report.fingerprint == fingerprint && report.occurrence?.compact == true)
    }

    @Test func theRegistryDescribesEveryBuiltinOnce() throws {
        #expect(BuiltinRegistry.names == ["process", "sysstats", "unwind", "variables"])
        #expect(Configuration.defaultTracers.map(\.name) == ["unwind", "process", "sysstats"])
        #expect(Configuration().builtinStages == [.unwind(UnwindTracer()), .collector(ProcessInfoTracer()),
                                                  .collector(SystemStatsTracer())])
        // Every entry's settings parse from its defaults, and its stage bears its name.
        for entry in BuiltinRegistry.entries {
            #expect(try entry.makeStage(.defaults).name == entry.name)
        }
        // What the variables stage needs comes first, or the chain is refused.
        #expect(BuiltinRegistry.unmetNeed(in: ["variables", "unwind"])?.needs == "unwind")
        #expect(BuiltinRegistry.unmetNeed(in: ["unwind", nil, "variables"]) == nil)
        // A process tracer's `redact` reaches the report's redaction rules.
        let configuration = try ConfigurationLoader.parse("[[tracer]]\nuse = \"process\"\nredact = [\"PIN\"]\n", file: "test.conf")
        #expect(configuration.builtinStages.flatMap(\.redactNamePatterns) == ["PIN"])
        #expect(Configuration().builtinStages.flatMap(\.redactNamePatterns).isEmpty)
    }

    @Test func anUnknownBuiltinIsRefusedWithItsLineNeverGuessed() {
        #expect(throws: ConfigurationError(file: "test.conf", line: 4, key: "tracer[2].use",
                                           message: "unknown built-in tracer; this build has: process, sysstats, unwind, variables")) {
            try ConfigurationLoader.parse("[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nuse = \"unwinder\"\n", file: "test.conf")
        }
    }
}
