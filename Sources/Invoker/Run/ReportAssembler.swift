// ReportAssembler: the one place a run's CrashReport is made, from the CaptureRecord the stopped
// window produced and, once the target is released, the symbolized stacks. No stage writes into
// a report; what comes after assembly (external tracers' runs, Traffic Server's details, the
// fingerprint) is added to the assembled report by the dispatcher. The crash guard's interim
// copies (what a crash of ours would leave) are assembled here too, from what exists so far.
// Cores are assembled here too: a piped core from CoreCapture's record, a core file from the
// record CoreReport makes of what libdwfl read.

import TracerKit
import Tracers

enum ReportAssembler {
    /// The report of `capture`. `symbolized` (the unwinder's finish) replaces the unwound stacks
    /// when given; without it the frames are unnamed.
    static func assemble(_ capture: CaptureRecord, symbolized: SymbolizedStacks? = nil) -> CrashReport {
        var report = CrashReport(pid: capture.pid, executable: capture.executable, commandLine: capture.commandLine,
                                 hostTriplet: capture.hostTriplet, time: capture.time, fault: capture.fault)
        report.isSnapshot = capture.isSnapshot
        report.processName = capture.processName
        report.processStatus = capture.processStatus
        report.processLimits = capture.processLimits
        report.memoryRegions = capture.memoryRegions
        report.threads = symbolized?.threads ?? capture.unwoundThreads
        report.globals = capture.variables?.globals ?? []
        report.modules = capture.modules
        report.sections = capture.sections
        report.tracerRuns = capture.runs
        report.problems = capture.problems + (symbolized?.remarks.problems ?? [])
        report.notes = capture.notes + (symbolized?.remarks.notes ?? [])
        report.fingerprint = capture.loop?.fingerprint
        report.occurrence = capture.loop?.occurrence
        return report
    }
}
