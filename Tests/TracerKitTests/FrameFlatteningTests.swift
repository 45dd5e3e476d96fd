// Frame flattening on a constructed stack: a physical frame keeps its inlined levels (each with
// its own variables); formats see one row per level, innermost first, then the physical frame,
// numbered after the rows above; a report read back from its rows nests them again.

import Testing
import TracerKit

/// compute() at pc 0x401234 with block() and twice() inlined into it (twice innermost), above main.
private func stack() -> [Frame] {
    var compute = Frame(index: 0, pc: 0x40_1234, stackPointer: 0x7ffd_1000, recovery: .stopped)
    compute.symbol.module = "/opt/app"
    compute.symbol.moduleOffset = 0x1234
    compute.symbol.function = "compute"
    compute.symbol.functionOffset = 0x34
    compute.symbol.file = "app.cpp"
    compute.symbol.line = 30
    compute.registers.values[7] = 0x7ffd_1000
    compute.variables = [Variable(name: "box", kind: "parameter", type: "Box", value: "{v = 1}")]
    compute.inlined = [
        InlinedCall(function: "twice", file: "box.h", line: 12, column: 5,
                    variables: [Variable(name: "doubled", kind: "local", type: "int", value: "2", scope: "twice")]),
        InlinedCall(function: "block", file: "app.cpp", line: 20, column: nil),
    ]
    var main = Frame(index: 1, pc: 0x40_0800, stackPointer: 0x7ffd_1040, recovery: .callFrameInfo)
    main.symbol.function = "main"
    main.symbol.functionOffset = 0x20
    return [compute, main]
}

@Suite(.timeLimit(.minutes(1))) struct FrameFlatteningTests {
    @Test func inlinedLevelsBecomeRowsAboveTheirPhysicalFrame() {
        let rows = stack().flattened()
        #expect(rows.map(\.function) == ["twice", "block", "compute", "main"])
        #expect(rows.map(\.index) == [0, 1, 2, 3])
        #expect(rows.map(\.isInlined) == [true, true, false, false])
        // A level shares its physical frame's pc, registers and module, has no offset of its own.
        #expect(rows[0].pc == 0x40_1234 && rows[1].pc == 0x40_1234)
        #expect(rows[0].registers.values[7] == 0x7ffd_1000)
        #expect(rows[0].module == "/opt/app" && rows[0].moduleOffset == 0x1234)
        #expect(rows[0].functionOffset == nil && rows[2].functionOffset == 0x34)
        #expect(rows.map(\.line) == [12, 20, 30, nil])
        #expect(rows[0].column == 5 && rows[1].column == nil)
        // Each level's variables are its own; the physical frame keeps the function's.
        #expect(rows.map { $0.variables.map(\.name) } == [["doubled"], [], ["box"], []])
        #expect(rows.allSatisfy { $0.inlined.isEmpty })
    }

    @Test func rowsAreNumberedAfterTheRowsAboveThem() {
        var frames = stack()
        frames[1].index = 10
        #expect(frames.flattened().map(\.index) == [0, 1, 2, 12])
        #expect(frames.flattened().nestingInlined().map(\.index) == [0, 10])
    }

    @Test func rowsReadBackNestIntoTheSamePhysicalFrames() {
        let frames = stack()
        #expect(frames.flattened().nestingInlined() == frames)
        let thread = ThreadReport(tid: 1, name: "main", isCrashing: true, registers: nil, frames: frames)
        #expect(thread.flattenedFrames == frames.flattened())
    }

    @Test func levelsCutFromTheirPhysicalFrameStayRows() {
        let rows = Array(stack().flattened().prefix(2))
        let nested = rows.nestingInlined()
        #expect(nested.map(\.function) == ["twice", "block"])
        #expect(nested.allSatisfy { $0.isInlined })
        #expect(nested.flattened() == rows)
    }
}
