// CapturedVariables: what the variables stage returns: the values of each read frame's
// parameters and locals (by thread and physical frame index into the UnwoundStacks it was given),
// and the named globals. They are put on their frames before the frames are symbolized.

import TracerKit

/// Variables read from the stopped target.
public struct CapturedVariables: Sendable, Equatable {
    /// Thread id → physical frame index → that frame's variables.
    public var frames: [Int32: [Int: [Variable]]]
    /// The globals the configuration names, with their values.
    public var globals: [Variable]
    /// What the variables stage says about its run.
    public var remarks: StageRemarks

    public init(frames: [Int32: [Int: [Variable]]] = [:], globals: [Variable] = [], remarks: StageRemarks = StageRemarks()) {
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
                thread.frames[index].variables = values
            }
            return thread
        }
    }
}
