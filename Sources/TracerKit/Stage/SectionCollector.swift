// SectionCollector: the contract of a built-in that adds one section of facts to the report
// (`use = "process"`, `use = "sysstats"`): it reads the snapshot and the machine and returns its
// section; the report assembler places it. A new collector is one type conforming to this and one
// entry in the built-in registry (Sources/Invoker/Builtins/BuiltinRegistry.swift).

/// What a collector may know besides the snapshot.
public struct CollectorContext: Sendable {
    /// Where reports go (the system collector reports its disk space).
    public var outputDirectory: String
    /// The run's deadline.
    public var deadline: Deadline

    public init(outputDirectory: String, deadline: Deadline) {
        self.outputDirectory = outputDirectory; self.deadline = deadline
    }
}

/// A built-in that collects one section of facts about the target and its machine.
///
/// Contract:
/// * `collect` runs in the capture phase, while a crashed target is still stopped (a live
///   snapshot's target has been released by then: what it reads is as of that moment), so it
///   must be quick and bounded by `context.deadline`.
/// * Read the target only through `snapshot` and its /proc entries; never call ptrace, never
///   detach or resume the target; do not write files or print.
/// * After a crash it runs on a second thread, alongside the unwinder (Dispatcher's
///   WindowCompanion): read the snapshot's captured values (threads, mappings, command line),
///   never `snapshot.memory` or `snapshot.modules`, which the other thread uses, and log nothing.
/// * Never throw: what cannot be read is a note in the section (`SectionBuilder.note`).
/// * Equal collectors (same settings) compare equal, so a configuration can be compared.
public protocol SectionCollector: Sendable, Equatable {
    /// The name used in configuration (`use = "process"`) and in Capture Timing.
    var name: String { get }
    /// Name patterns of secrets this collector's settings add to the report's redaction rules.
    var redactNamePatterns: [String] { get }
    /// The section, from `snapshot` and the machine.
    func collect(from snapshot: any ProcessSnapshot, context: CollectorContext) -> ReportSection
}

extension SectionCollector {
    public var redactNamePatterns: [String] { [] }

    /// Whether `other` is a collector of this type with the same settings.
    public func isSame(as other: any SectionCollector) -> Bool {
        (other as? Self) == self
    }
}
