// SentryEventMapper+Limits: Relay drops frames beyond 250 per stack and rejects events above
// about 1 MB, so the mapping keeps within both and says in the event (contexts.invoker.cut) what
// it left out: a long stack keeps its innermost frames (where the fault is) and its outermost
// (how the thread got there); an event too large loses, in turn, the other threads' variables,
// all variables, the other threads' registers and deep frames, then their stacks.

extension SentryEventMapper {
    /// Frames past this are cut from a stack (Relay's own limit).
    static let maxFramesPerStack = 250

    /// Keeps `limit` frames of a stack listed innermost first: the innermost ~80% and the
    /// outermost ~20%. Returns the kept frames (still innermost first) and how many were cut.
    static func keepEnds<Frame>(_ frames: [Frame], limit: Int) -> (kept: [Frame], omitted: Int) {
        guard frames.count > limit, limit > 0 else { return (frames, 0) }
        let outermost = limit / 5
        let innermost = limit - outermost
        return (Array(frames.prefix(innermost)) + Array(frames.suffix(outermost)), frames.count - limit)
    }

    /// The event for `document` within `settings.maxEventBytes` (encoded, before compression),
    /// and its encoded bytes.
    func fittedEvent(from document: ReportDocument, eventID: String) -> (event: JSONValue, bytes: [UInt8]) {
        let steps: [(SentryDetail, String?)] = [
            (SentryDetail(framesPerStack: Self.maxFramesPerStack), nil),
            (SentryDetail(variables: .crashingThread, framesPerStack: Self.maxFramesPerStack),
             "the variables of the non-crashing threads"),
            (SentryDetail(variables: .none, framesPerStack: Self.maxFramesPerStack), "all variables"),
            (SentryDetail(variables: .none, framesPerStack: Self.maxFramesPerStack, framesPerOtherThread: 32,
                          registersOfOtherThreads: false),
             "all variables, the other threads' registers and their frames beyond 32"),
            (SentryDetail(variables: .none, framesPerStack: Self.maxFramesPerStack, framesPerOtherThread: 0,
                          registersOfOtherThreads: false),
             "all variables and the other threads' stacks"),
            (SentryDetail(variables: .none, framesPerStack: 64, framesPerOtherThread: 0, registersOfOtherThreads: false),
             "all variables, the other threads' stacks and the crashing stack's frames beyond 64"),
        ]
        var last: (JSONValue, [UInt8]) = (.null, [])
        for (detail, cut) in steps {
            let reason = cut.map { ["to stay under \(settings.maxEventBytes) bytes, left out: \($0)"] } ?? []
            let event = event(from: document, eventID: eventID, detail: detail, cuts: reason)
            let bytes = event.encoded()
            last = (event, bytes)
            if bytes.count <= settings.maxEventBytes { return last }
        }
        return last
    }
}
