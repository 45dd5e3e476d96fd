// Tracer: the contract of a built-in tracer.

/// A built-in tracer: reads a target's snapshot and adds its findings to the report.
///
/// A tracer works in two phases. `capture` does only what needs the target's memory and
/// registers: after a crash it runs while every thread is still stopped; in a live snapshot the
/// threads have already been released, and it reads the registers and stack bytes the snapshot
/// copied while they were stopped (other memory is read live). `finish` runs after the target has
/// been released (a crashed server may already be gone) and does everything that needs only
/// files and the report: symbolizing, decoding, formatting. The split keeps the server's downtime
/// to the capture.
///
/// Contract:
/// * Read the target only through `snapshot` (its memory reader, registers, maps, modules), and
///   its memory only in `capture`; never call ptrace, never detach or resume the target: the
///   dispatcher owns the session.
/// * Add to the report only through `report`; do not write files or print.
/// * Respect `deadline`: return what you have when it passes. A partial result with a problem
///   sentence is better than none.
/// * Never throw for a degraded target (unreadable memory, a vanished thread): record a sentence in
///   `report.problems` and carry on.
public protocol Tracer {
    /// The name used in configuration (`use = "unwind"`) and in the report.
    var name: String { get }
    /// The part that needs the stopped target.
    func capture(snapshot: ProcessSnapshot, report: inout CrashReport, deadline: Deadline)
    /// The part that needs only files and the report (default: nothing).
    func finish(snapshot: ProcessSnapshot, report: inout CrashReport, deadline: Deadline)
}

extension Tracer {
    public func finish(snapshot: ProcessSnapshot, report: inout CrashReport, deadline: Deadline) {}
}
