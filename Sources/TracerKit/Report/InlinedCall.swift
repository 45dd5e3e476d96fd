// InlinedCall: one level of a physical frame's inline chain, a function the compiler inlined at
// the frame's pc. It has no frame of its own on the stack, so it shares the physical frame's pc,
// registers and module; it has its own name, source position and variables.

/// A function inlined at a physical frame's pc (one level of `Frame.inlined`).
public struct InlinedCall: Sendable, Equatable {
    /// The inlined function (demangled).
    public var function: String
    /// The position in the inlined body: for the innermost level the pc's line, for the others
    /// the call site of the level inside them.
    public var file: String?
    public var line: Int?
    public var column: Int?
    /// The parameters and locals of this inlined body in scope at the pc (the variables tracer).
    public var variables: [Variable]

    public init(function: String, file: String? = nil, line: Int? = nil, column: Int? = nil, variables: [Variable] = []) {
        self.function = function; self.file = file; self.line = line; self.column = column; self.variables = variables
    }
}
