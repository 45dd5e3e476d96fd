// Frame+Flattening: the one place a physical frame's inlined levels become rows of their own, as
// every format shows them (eu-stack -i, gdb and addr2line -i print an inlined call as a frame):
// each level is a row marked inlined, innermost first, then the physical frame; each row's number
// counts the rows above it. `nestingInlined` undoes it for a report read back from its JSON.

extension ThreadReport {
    /// The stack as formats show it: one row per inlined level, then its physical frame.
    public var flattenedFrames: [Frame] { frames.flattened() }
}

extension Array where Element == Frame {
    /// The rows of these physical frames: each inlined level becomes a frame marked `isInlined`
    /// (the physical frame's pc, registers and module; the level's function, position and
    /// variables; no function offset), followed by the physical frame without its levels.
    public func flattened() -> [Frame] {
        var rows: [Frame] = []
        rows.reserveCapacity(count)
        // Each row is numbered after the rows before it: a frame's index moves up by the levels
        // shown above it.
        var shift = 0
        for physical in self {
            for level in physical.inlined {
                var row = physical
                row.index += shift
                shift += 1
                row.inlined = []
                row.isInlined = true
                row.variables = level.variables
                row.symbol.function = level.function
                row.symbol.functionOffset = nil
                row.symbol.file = level.file
                row.symbol.line = level.line
                row.symbol.column = level.column
                rows.append(row)
            }
            var row = physical
            row.index += shift
            row.inlined = []
            rows.append(row)
        }
        return rows
    }

    /// The physical frames of flattened rows (a report read back): each run of rows marked
    /// inlined becomes the levels of the row after it, whose number drops by the rows folded.
    public func nestingInlined() -> [Frame] {
        var frames: [Frame] = []
        var pending: [InlinedCall] = []
        var shift = 0
        for row in self {
            if row.isInlined {
                shift += 1
                pending.append(InlinedCall(function: row.function ?? "??", file: row.file, line: row.line, column: row.column,
                                           variables: row.variables))
                continue
            }
            var frame = row
            frame.index -= shift
            frame.inlined = pending
            pending = []
            frames.append(frame)
        }
        // Levels with no physical frame after them (a cut list) stay rows of their own.
        let folded = shift - pending.count
        frames += self.suffix(pending.count).map { var row = $0; row.index -= folded; return row }
        return frames
    }
}
