// Deadline: one point on the monotonic clock that every bounded step of a crash run checks.
// The crashing server waits for us in its signal handler, so every loop that could wait
// (thread stops, tracers, unwinding) carries the run's deadline.

#if canImport(Glibc)
import Glibc
#endif

/// A point on the monotonic clock (CLOCK_MONOTONIC), with the arithmetic a crash run needs.
public struct Deadline: Sendable, Comparable {
    /// Nanoseconds on CLOCK_MONOTONIC.
    public let nanoseconds: UInt64

    /// The current monotonic time.
    public static func now() -> Deadline {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Deadline(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }

    /// A deadline `seconds` from now.
    public static func after(seconds: Double) -> Deadline {
        now().adding(seconds: seconds)
    }

    /// A deadline so far away it never expires.
    public static let never = Deadline(nanoseconds: UInt64.max / 2)

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// This deadline moved `seconds` later (or earlier, if negative).
    /// Saturates: a huge or non-finite number of seconds gives `never` (or the clock's zero),
    /// never a trap.
    public func adding(seconds: Double) -> Deadline {
        guard !seconds.isNaN else { return self }
        guard abs(seconds) < 1e9 else { return seconds > 0 ? .never : Deadline(nanoseconds: 0) }
        let target = Int64(nanoseconds) + Int64(seconds * 1e9)
        return Deadline(nanoseconds: UInt64(min(max(0, target), Int64(Deadline.never.nanoseconds))))
    }

    /// Whether the deadline has passed.
    public var hasExpired: Bool { Deadline.now() >= self }

    /// Seconds left until the deadline (0 once it has passed).
    public var secondsRemaining: Double {
        let now = Deadline.now().nanoseconds
        return now >= nanoseconds ? 0 : Double(nanoseconds - now) / 1e9
    }

    /// Seconds elapsed from `start` to this instant.
    public func seconds(since start: Deadline) -> Double {
        Double(Int64(nanoseconds) - Int64(start.nanoseconds)) / 1e9
    }

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}

extension Deadline {
    /// Whole milliseconds from `start` to now, as text ("12").
    public static func millisecondsSince(_ start: Deadline) -> String {
        String(Int((Deadline.now().seconds(since: start) * 1000).rounded()))
    }
}
