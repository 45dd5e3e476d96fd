// SymbolizedStacks: what the unwinder's finish returns after the target is released: every
// thread's physical frames named (module, function, source position), the functions inlined at
// each pc as its levels (Frame.inlined; the writers show them as rows of their own).

import TracerKit

/// Every thread's stack, named.
public struct SymbolizedStacks: Sendable, Equatable {
    /// The threads, crashing thread first, with symbolized frames.
    public var threads: [ThreadReport]
    /// What symbolizing says about its run.
    public var remarks: StageRemarks

    public init(threads: [ThreadReport], remarks: StageRemarks = StageRemarks()) {
        self.threads = threads; self.remarks = remarks
    }
}
