// Tracer: the contract of a built-in tracer.

/// A built-in tracer: reads a stopped target's snapshot and adds its findings to the report.
///
/// Contract:
/// * Read the target only through `snapshot` (its memory reader, registers, maps, modules); never
///   call ptrace, never detach or resume the target: the dispatcher owns the session.
/// * Add to the report only through `report`; do not write files or print.
/// * Respect `deadline`: return what you have when it passes. A partial result with a problem
///   sentence is better than none.
/// * Never throw for a degraded target (unreadable memory, a vanished thread): record a sentence in
///   `report.problems` and carry on.
public protocol Tracer {
    /// The name used in configuration (`use = "unwind"`) and in the report.
    var name: String { get }
    func run(snapshot: ProcessSnapshot, report: inout CrashReport, deadline: Deadline)
}
