// CoreReport: the crash report of a core file: the same model a live crash fills (threads,
// frames, fault and its classification, modules), from what CoreFileReader read, put into a
// CaptureRecord and assembled by ReportAssembler like every other run's, with a note
// that it came from a core, so a reader knows why the live-only sections are missing (the
// variables tracer runs on a core file's memory when the configuration has it).

#if canImport(Glibc)
import Glibc
#endif
import TracerKit
import Tracers

enum CoreReport {
    /// The report of `dump`, dated `time` (the crash's), read from `source` (default: its path).
    static func make(from dump: CoreDump, time: Int, readSeconds: Double, source: String? = nil) -> CrashReport {
        let crashing = dump.threads.first { $0.tid == dump.crashingThread }
        var fault = FaultContext(pid: dump.pid, crashingThread: dump.crashingThread, signal: dump.signal,
                                 registers: crashing?.registers)
        if let signal = dump.signal {
            fault.classification = FaultClassifier.classify(signal: signal, registers: crashing?.registers, mappings: [],
                                                           abortMessage: nil, targetPID: dump.pid)
        }
        let commandLine = dump.arguments.map { $0.split(separator: " ").map(String.init) } ?? []
        var capture = CaptureRecord(pid: dump.pid, executable: dump.executable ?? dump.processName ?? "?",
                                    commandLine: commandLine, hostTriplet: nil, time: time, fault: fault, isSnapshot: false)
        capture.processName = dump.processName
        capture.modules = dump.modules
        // libdwfl unwound and named the core's stacks (and the variables stage read its memory):
        // they come to the assembler as the finished stacks and the globals.
        capture.variables = CapturedVariables(globals: dump.globals)
        capture.problems = dump.problems
        capture.notes = dump.notes
        let missing = (dump.readVariables ? [] : ["variables"]) + ["collectors", "external tracers", "thread names", "process status"]
        capture.notes.append("read from \(source ?? "the core file " + dump.path) (not a live process: no "
            + sentence(missing) + ") in \(Int(readSeconds * 1000)) ms")
        capture.runs.append(TracerRun(name: "core", seconds: readSeconds, outcome: "completed"))
        let stacks = SymbolizedStacks(threads: dump.threads.map { thread in
            // A core does not keep thread names (comm): the main thread gets the process's.
            ThreadReport(tid: thread.tid, name: thread.tid == dump.pid ? (dump.processName ?? "") : "",
                         isCrashing: thread.tid == dump.crashingThread, registers: thread.registers,
                         frames: thread.frames, unwindStop: thread.unwindStop)
        })
        return ReportAssembler.assemble(capture, symbolized: stacks)
    }

    /// "a, b or c".
    private static func sentence(_ items: [String]) -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " or " + items.last!
    }
}
