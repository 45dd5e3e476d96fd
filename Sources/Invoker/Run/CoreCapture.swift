// CoreCapture: the report of a process whose core the kernel is piping to us, made by the same
// built-in tracers as a crash's (unwind, variables, process, sysstats) from a ProcessSnapshot whose
// threads and registers come from the core's notes and whose memory, maps and files come from the
// process itself: while the kernel waits on the pipe, /proc/%P is readable and process_vm_readv
// reads its memory. Nothing needs stopping (the kernel holds every thread) and nothing may attach
// (ptrace cannot seize a dumping process), so external tracers are not run.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import TracerKit
import Tracers

struct CoreCapture {
    let configuration: Configuration
    let outputDirectory: String
    let logger: Logger

    /// What the built-in tracers captured of `pid` while it dumps the core whose notes are
    /// `notes`, and what `finish` needs to complete it once the core has been drained.
    struct Captured {
        var report: CrashReport
        let snapshot: ProcessSnapshot
        let builtins: [any Tracer]
        let started: Deadline
    }

    /// The part that needs the process (its memory, /proc/%P): the kernel waits meanwhile.
    func capture(pid: Int32, notes: CoreNotes, time: Int, deadline: Deadline) -> Captured {
        let started = Deadline.now()
        let crashing = notes.threads.first
        let fault = FaultContext(pid: pid, crashingThread: notes.crashingThread, signal: notes.signal,
                                 registers: crashing?.registers)
        var report = CrashReport(pid: pid, executable: ProcFile.readLink("/proc/\(pid)/exe") ?? notes.processName ?? "?",
                                 commandLine: [], hostTriplet: nil, time: time, fault: fault)
        report.problems += configuration.warnings.map { $0 + "." } + notes.problems
        report.processName = ProcFile.readText("/proc/\(pid)/comm", limit: 64)?.trimmingWhitespace() ?? notes.processName
        report.processStatus = ProcFile.readText("/proc/\(pid)/status", limit: 64 * 1024)
        report.processLimits = ProcFile.readText("/proc/\(pid)/limits", limit: 64 * 1024)
        report.memoryRegions = ProcFile.readText("/proc/\(pid)/maps", limit: 16 << 20)
        let builtins = configuration.tracers.compactMap { spec -> (any Tracer)? in
            if case .builtin(let builtin) = spec { return BuiltinTracers.make(builtin, outputDirectory: outputDirectory) }
            return nil
        }
        let externals = configuration.tracers.compactMap { spec -> String? in
            if case .external(let external) = spec { return external.name }
            return nil
        }
        if !externals.isEmpty {
            report.problems.append("Not run for a core (the kernel holds the process while it dumps it; nothing can attach): \(externals.joined(separator: ", ")).")
        }
        let snapshot = ProcessSnapshot.dumping(pid: pid, threads: notes.threads.map { ($0.tid, $0.registers) }, fault: fault,
                                               notedPID: notes.pid, processName: notes.processName,
                                               stackCopyLimit: configuration.stackCopyLimit)
        report.executable = snapshot.executable
        report.commandLine = snapshot.commandLine
        report.notes.append("read from process \(pid) while the kernel piped its core: registers and signal from the core's notes, "
                            + "\(snapshot.copiedStackBytes / 1024) KiB of stacks and the memory map from the live process")
        if let signal = notes.signal {
            report.fault?.classification = FaultClassifier.classify(
                signal: signal, registers: crashing?.registers, mappings: snapshot.mappings,
                abortMessage: signal.number == SIGABRT ? snapshot.abortMessage() : nil, targetPID: pid)
        }
        for tracer in builtins {
            let tracerStart = Deadline.now()
            tracer.capture(snapshot: snapshot, report: &report, deadline: deadline)
            report.tracerRuns.append(TracerRun(name: tracer.name, seconds: Deadline.now().seconds(since: tracerStart),
                                               outcome: deadline.hasExpired ? "stopped at the deadline" : "completed"))
        }
        // The module list comes from /proc/%P/maps: taken while the process surely exists.
        report.modules = snapshot.modules?.modules ?? []
        return Captured(report: report, snapshot: snapshot, builtins: builtins, started: started)
    }

    /// The part that needs only files (symbolizing): after the core is drained, so the kernel
    /// can finish the process's exit meanwhile.
    func finish(_ captured: Captured, deadline: Deadline) -> CrashReport {
        var report = captured.report
        for tracer in captured.builtins {
            tracer.finish(snapshot: captured.snapshot, report: &report, deadline: deadline)
        }
        report.problems += captured.snapshot.problems
        report.tracerRuns.insert(TracerRun(name: "invoker", seconds: Deadline.now().seconds(since: captured.started),
                                           outcome: "capture finished"), at: 0)
        return report
    }
}
