// StageRemarks: what a capture stage says about its own run beside its product: sentences about
// what degraded it (for the report's problems) and about what it took (for Capture Timing).

/// Sentences a stage returns with its product; the report assembler files them.
public struct StageRemarks: Sendable, Equatable {
    /// What degraded the stage's result, each a sentence an operator can act on.
    public var problems: [String]
    /// What the stage did and how long it took ("unwind: 4 threads, 31 frames unwound in 2 ms").
    public var notes: [String]

    public init(problems: [String] = [], notes: [String] = []) {
        self.problems = problems; self.notes = notes
    }
}
