// CaptureRecord: everything a run captured before there is a report, as values: what was read of
// the process before it was stopped, the fault, each stage's product (UnwoundStacks,
// CapturedVariables, collectors' sections), and the run's own sentences in the order they arose.
// The dispatcher fills it; ReportAssembler alone turns it into a CrashReport.

import TracerKit
import Tracers

/// What one run captured, stage by stage.
struct CaptureRecord {
    var pid: Int32
    /// /proc/PID/exe, read before the attach; the snapshot's once there is one.
    var executable: String
    var commandLine: [String] = []
    var hostTriplet: String?
    /// Seconds since the epoch when the run started.
    var time: Int
    /// The payload's fault, then the snapshot's (crashing thread resolved), then classified.
    var fault: FaultContext?
    /// A live snapshot (`invoker snapshot`, a client's request), not a crash.
    var isSnapshot: Bool
    /// /proc/PID/comm, status, limits and maps, read before the target was stopped.
    var processName: String?
    var processStatus: String?
    var processLimits: String?
    var memoryRegions: String?
    /// The unwinder's product, when it ran.
    var stacks: UnwoundStacks?
    /// The variables stage's product, when it ran.
    var variables: CapturedVariables?
    /// Sections in report order: the caller's (a snapshot request) first, then each collector's.
    var sections: [ReportSection] = []
    /// The loaded modules, listed while the target surely existed.
    var modules: [LoadedModule] = []
    /// Each built-in's run (and a live snapshot's freeze).
    var runs: [TracerRun] = []
    /// Sentences for the report, in the order they arose.
    var problems: [String] = []
    var notes: [String] = []
    /// Set when the crash-loop check found this crash in a loop (the report is then compact).
    var loop: (fingerprint: Fingerprint, occurrence: Occurrence)? = nil

    /// Files a stage's sentences after those before it.
    mutating func file(_ remarks: StageRemarks) {
        problems += remarks.problems
        notes += remarks.notes
    }

    /// The threads as captured: unwound, with their variables on their frames, not yet named.
    var unwoundThreads: [ThreadReport] { stacks?.attaching(variables) ?? [] }
}
