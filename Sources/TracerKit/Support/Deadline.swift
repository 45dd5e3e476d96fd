// Deadline: one instant on the continuous clock that every bounded step of a crash run checks.
// The crashing server waits for us in its signal handler, so every loop that could wait
// (thread stops, tracers, unwinding) carries the run's deadline.
//
// The instant is the standard library's ContinuousClock.Instant (clock_gettime(CLOCK_BOOTTIME)
// on Linux: monotonic, and counting a suspend too); this type adds what a crash run needs on top:
// seconds as Double, saturation instead of a trap on a huge or non-finite number of seconds, and
// `never`.

/// An instant on the continuous clock, with the arithmetic a crash run needs.
public struct Deadline: Sendable, Comparable {
    /// The instant.
    public let instant: ContinuousClock.Instant

    /// How far `never` and `distantPast` lie from the first use of either: far beyond any
    /// deadline `adding(seconds:)` gives (it saturates at 1e9 s), well inside Duration's range.
    private static let farAway = Duration.seconds(1e12)

    public init(instant: ContinuousClock.Instant) { self.instant = instant }

    /// The current instant.
    public static func now() -> Deadline { Deadline(instant: .now) }

    /// A deadline `seconds` from now.
    public static func after(seconds: Double) -> Deadline {
        now().adding(seconds: seconds)
    }

    /// A deadline so far away it never expires.
    public static let never = Deadline(instant: ContinuousClock.now.advanced(by: farAway))

    /// An instant so long ago that every deadline is later: what a huge negative number of
    /// seconds saturates to.
    public static let distantPast = Deadline(instant: ContinuousClock.now.advanced(by: .zero - farAway))

    /// This deadline moved `seconds` later (or earlier, if negative).
    /// Saturates: a huge or non-finite number of seconds gives `never` (or `distantPast`),
    /// never a trap.
    public func adding(seconds: Double) -> Deadline {
        guard !seconds.isNaN else { return self }
        guard abs(seconds) < 1e9 else { return seconds > 0 ? .never : .distantPast }
        return Deadline(instant: instant.advanced(by: .nanoseconds(Int64(seconds * 1e9))))
    }

    /// Whether the deadline has passed.
    public var hasExpired: Bool { ContinuousClock.now >= instant }

    /// Seconds left until the deadline (0 once it has passed).
    public var secondsRemaining: Double {
        max(0, Self.seconds(ContinuousClock.now.duration(to: instant)))
    }

    /// Seconds elapsed from `start` to this instant.
    public func seconds(since start: Deadline) -> Double {
        Self.seconds(start.instant.duration(to: instant))
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.instant < rhs.instant }
}

extension Deadline {
    /// Whole milliseconds from `start` to now, as text ("12").
    public static func millisecondsSince(_ start: Deadline) -> String {
        String(Int((Deadline.now().seconds(since: start) * 1000).rounded()))
    }
}
