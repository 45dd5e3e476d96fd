// ReportDocument+Model: a decoded document's threads back as the report model has them, for what
// re-renders a report from its JSON: `invoker show --all-threads` (CrashLogWriter's thread
// listing) and the HTML page's groups of identical stacks (ThreadGrouping).

import TracerKit

extension ReportDocument.Thread {
    /// The thread as the report model has it (no registers: the listing does not print them);
    /// the document's inlined rows become levels of their physical frames again.
    var threadReport: ThreadReport {
        ThreadReport(tid: tid, name: name, isCrashing: crashed, registers: nil, frames: frames.map(\.frame).nestingInlined(),
                     unwindStop: unwindStop)
    }
}

extension ReportDocument.Frame {
    /// The frame as the report model has it; an address that does not parse reads as 0.
    var frame: TracerKit.Frame {
        var frame = TracerKit.Frame(index: index, pc: pc.hexAddress ?? 0, stackPointer: sp.hexAddress ?? 0,
                                    recovery: FrameRecovery(rawValue: recovery) ?? .callFrameInfo, isSignalFrame: signalFrame)
        frame.isInlined = inlined
        frame.symbol.module = module
        frame.symbol.buildID = buildId
        frame.symbol.moduleOffset = moduleOffset?.hexAddress
        frame.symbol.function = function
        frame.symbol.functionOffset = functionOffset?.hexAddress
        frame.symbol.file = file
        frame.symbol.line = line
        frame.symbol.column = column
        frame.variables = (variables ?? []).map {
            TracerKit.Variable(name: $0.name, kind: $0.kind, type: $0.type, value: $0.value, note: $0.note,
                               pointee: $0.pointee, scope: $0.scope)
        }
        return frame
    }
}
