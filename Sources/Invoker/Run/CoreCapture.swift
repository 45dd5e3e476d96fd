// CoreCapture: the report of a process whose core the kernel is piping to us, made by the same
// built-in stages as a crash's (unwind, variables, process, sysstats: Dispatcher.runStages) and the
// one ReportAssembler, from a CoreProcessSnapshot whose threads and registers come from the core's
// notes and whose memory, maps and files come from the process itself: while the kernel waits on
// the pipe, /proc/%P is readable and process_vm_readv reads its memory. Nothing needs stopping (the
// kernel holds every thread) and nothing may attach (ptrace cannot seize a dumping process), so
// external tracers are not run.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit
import Tracers

struct CoreCapture {
    /// The run's configuration, output directory and logger, and its stages.
    let dispatcher: Dispatcher

    /// What the stages captured while the process could be read, and what `finish` needs.
    struct Captured {
        var record: CaptureRecord
        let snapshot: CoreProcessSnapshot
        let started: Deadline
    }

    /// The part that needs the process (its memory, /proc/%P): the kernel waits meanwhile.
    func capture(pid: Int32, notes: CoreNotes, time: Int, deadline: Deadline) -> Captured {
        let started = Deadline.now()
        let configuration = dispatcher.configuration
        let fault = FaultContext(pid: pid, crashingThread: notes.crashingThread, signal: notes.signal,
                                 registers: notes.threads.first?.registers)
        var record = CaptureRecord(pid: pid, executable: ProcFile.readLink("/proc/\(pid)/exe") ?? notes.processName ?? "?",
                                   hostTriplet: nil, time: time, fault: fault, isSnapshot: false)
        record.problems += configuration.warnings.map { $0 + "." } + notes.problems
        record.processName = ProcFile.readText("/proc/\(pid)/comm", limit: 64)?.trimmingWhitespace() ?? notes.processName
        record.processStatus = ProcFile.readText("/proc/\(pid)/status", limit: 64 * 1024)
        record.processLimits = ProcFile.readText("/proc/\(pid)/limits", limit: 64 * 1024)
        record.memoryRegions = ProcFile.readText("/proc/\(pid)/maps", limit: 16 << 20)
        let externals = configuration.tracers.compactMap { spec -> String? in
            if case .external(let external) = spec { return external.name }
            return nil
        }
        if !externals.isEmpty {
            record.problems.append("Not run for a core (the kernel holds the process while it dumps it; nothing can attach): \(externals.joined(separator: ", ")).")
        }
        let snapshot = CoreProcessSnapshot.dumping(pid: pid, threads: notes.threads.map { ($0.tid, $0.registers) }, fault: fault,
                                                   notedPID: notes.pid, processName: notes.processName,
                                                   stackCopyLimit: configuration.stackCopyLimit)
        record.executable = snapshot.executable
        record.commandLine = snapshot.commandLine
        record.notes.append("read from process \(pid) while the kernel piped its core: registers and signal from the core's notes, "
                            + "\(snapshot.copiedStackBytes / 1024) KiB of stacks and the memory map from the live process")
        record.fault?.classification = Dispatcher.classification(of: snapshot)
        dispatcher.runStages(configuration.builtinStages, on: snapshot, into: &record, deadline: deadline)
        // The module list comes from /proc/%P/maps: taken while the process surely exists.
        record.modules = snapshot.modules?.modules ?? []
        return Captured(record: record, snapshot: snapshot, started: started)
    }

    /// The part that needs only files (symbolizing): after the core is drained, so the kernel
    /// can finish the process's exit meanwhile.
    func finish(_ captured: Captured, deadline: Deadline) -> CrashReport {
        var record = captured.record
        record.problems += captured.snapshot.problems
        let symbolized = dispatcher.finishStages(dispatcher.configuration.builtinStages, capture: record,
                                                 snapshot: captured.snapshot, deadline: deadline)
        var report = ReportAssembler.assemble(record, symbolized: symbolized)
        report.tracerRuns.insert(TracerRun(name: "invoker", seconds: Deadline.now().seconds(since: captured.started),
                                           outcome: "capture finished"), at: 0)
        return report
    }
}
