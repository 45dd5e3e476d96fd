// Occurrence: how one crash relates to the crashes recorded before it with the same fingerprint,
// as the crash store saw it when the report was written.

/// New, a repeat, a regression of a resolved group, or a crash loop (a compact record).
public struct Occurrence: Sendable, Equatable {
    public enum State: String, Sendable, Equatable, CaseIterable {
        /// No earlier crash with this fingerprint is recorded.
        case new
        /// The group is known and not resolved.
        case `repeat`
        /// The group was marked resolved, and this crash comes from another build.
        case regression
        /// The group had its full reports for the window: this is a compact record.
        case loop
    }

    public var state: State
    /// Crashes of this group including this one, as far as the store knew.
    public var groupCount: Int
    /// Whether this report is a compact record (crashing thread only, expensive tracers skipped).
    public var compact: Bool
    /// A sentence for the report ("3 full reports of this fingerprint in the last 600 s …").
    public var detail: String?

    public init(state: State, groupCount: Int, compact: Bool = false, detail: String? = nil) {
        self.state = state; self.groupCount = groupCount; self.compact = compact; self.detail = detail
    }
}
