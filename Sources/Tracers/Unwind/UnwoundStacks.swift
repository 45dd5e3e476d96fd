// UnwoundStacks: what the unwinder's capture returns: every thread's physical frames (pc, stack
// pointer, recovered registers), not yet named. The variables stage takes it as a parameter, so
// it cannot run before the stacks exist; symbolizing names it after the target is released.

import TracerKit

/// Every thread's stack as unwound from the stopped target, crashing thread first.
public struct UnwoundStacks: Sendable, Equatable {
    /// The threads, each with its physical frames (no symbols, no inlined levels yet).
    public var threads: [ThreadReport]
    /// What the unwinder says about its run.
    public var remarks: StageRemarks

    public init(threads: [ThreadReport], remarks: StageRemarks = StageRemarks()) {
        self.threads = threads; self.remarks = remarks
    }
}
