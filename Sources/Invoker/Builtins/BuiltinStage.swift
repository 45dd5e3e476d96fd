// BuiltinStage: what a configured built-in does in a run, with its settings. The kind of stage
// decides what it takes and what it returns, so the dependencies between built-ins are the
// parameters of their stages: the variables stage takes the unwinder's UnwoundStacks; a
// collector takes only the snapshot and returns its section. The dispatcher runs them in the
// chain's order while the target is stopped; ReportAssembler turns their products into the report.

import TracerKit
import Tracers

/// A built-in of the chain, configured.
enum BuiltinStage: Equatable, Sendable {
    /// Unwinds every thread (→ UnwoundStacks) and, after the release, names the frames
    /// (→ SymbolizedStacks).
    case unwind(UnwindTracer)
    /// Reads the variables of the unwound frames: UnwoundStacks → CapturedVariables.
    case variables(VariablesTracer)
    /// Collects one section of facts: snapshot → ReportSection.
    case collector(any SectionCollector)

    /// The name in configuration, in Capture Timing and in fault injection.
    var name: String {
        switch self {
        case .unwind: UnwindTracer.name
        case .variables: VariablesTracer.name
        case .collector(let collector): collector.name
        }
    }

    /// Whether it needs the threads' xmm registers (floating-point values in the innermost frame),
    /// which cost one more system call a thread in the stopped window.
    var readsVectorRegisters: Bool {
        if case .variables = self { true } else { false }
    }

    /// Whether it reads the unwound frames' registers (which the unwinder then keeps; without such
    /// a stage it reads none beyond each frame's pc and stack pointer).
    var readsFrameRegisters: Bool {
        if case .variables = self { true } else { false }
    }

    /// Whether it costs enough downtime that a crash loop should skip it (the crash-loop check then
    /// runs right after the unwinder, in the stopped window).
    var isExpensive: Bool {
        if case .variables = self { true } else { false }
    }

    /// Name patterns of secrets its settings add to the report's redaction rules.
    var redactNamePatterns: [String] {
        if case .collector(let collector) = self { collector.redactNamePatterns } else { [] }
    }

    static func == (lhs: BuiltinStage, rhs: BuiltinStage) -> Bool {
        switch (lhs, rhs) {
        case (.unwind(let a), .unwind(let b)): a == b
        case (.variables(let a), .variables(let b)): a == b
        case (.collector(let a), .collector(let b)): a.isSame(as: b)
        default: false
        }
    }
}
