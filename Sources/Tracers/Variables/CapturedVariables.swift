// CapturedVariables: what the variables stage returns: the values of each read frame's
// parameters and locals (by thread and physical frame index into the UnwoundStacks it was given),
// each with its function level (the physical function, or a body inlined into it), and the named
// globals. They are put on their frames before the frames are symbolized; the symbolizer then
// names and positions the same inlined levels, from the same scope chain.

import TracerKit

/// One physical frame's variables by function level.
public struct FrameVariables: Sendable, Equatable {
    /// The physical function's own parameters and locals.
    public var own: [Variable]
    /// The bodies inlined at the pc, innermost first (as `Frame.inlined`), each with its own.
    public var inlined: [InlinedCall]

    public init(own: [Variable] = [], inlined: [InlinedCall] = []) { self.own = own; self.inlined = inlined }

    /// The variables of every level.
    public var count: Int { own.count + inlined.reduce(0) { $0 + $1.variables.count } }

    /// Gives `frame` these variables: the function's own, and each inlined level's to that level.
    public func attach(to frame: inout Frame) {
        frame.variables = own
        if frame.inlined.count == inlined.count {
            for index in inlined.indices { frame.inlined[index].variables = inlined[index].variables }
        } else {
            frame.inlined = inlined
        }
    }
}

/// Variables read from the stopped target.
public struct CapturedVariables: Sendable, Equatable {
    /// Thread id → physical frame index → that frame's variables.
    public var frames: [Int32: [Int: FrameVariables]]
    /// The globals the configuration names, with their values.
    public var globals: [Variable]
    /// What the variables stage says about its run.
    public var remarks: StageRemarks

    public init(frames: [Int32: [Int: FrameVariables]] = [:], globals: [Variable] = [], remarks: StageRemarks = StageRemarks()) {
        self.frames = frames; self.globals = globals; self.remarks = remarks
    }
}

extension UnwoundStacks {
    /// The threads with `variables` put on the frames they were read from.
    public func attaching(_ variables: CapturedVariables?) -> [ThreadReport] {
        guard let variables, !variables.frames.isEmpty else { return threads }
        return threads.map { thread in
            guard let byFrame = variables.frames[thread.tid] else { return thread }
            var thread = thread
            for (index, values) in byFrame where thread.frames.indices.contains(index) {
                values.attach(to: &thread.frames[index])
            }
            return thread
        }
    }
}
