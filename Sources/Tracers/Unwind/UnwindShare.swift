// UnwindShare: the threads of one snapshot unwound on two cores. The thread that runs the unwind
// stage and one helper (a crash's second thread, once its own work is done) each take the next
// thread not yet taken, with an unwinder of their own (RemoteUnwinder: its own libunwind address
// space and unwind tables; "use from one thread at a time") over a page-cache reader of their own
// that shares the prefetched stacks (CachingMemoryReader.forAnotherThread). Each thread's outcome
// lands in its slot; the stage merges them in thread order, so the result is the serial one's.

import TracerKit

/// Threads to unwind, taken one at a time by the stage's thread and at most one helper.
public final class UnwindShare: @unchecked Sendable {
    /// One thread's outcome: its report, its frame count, the sentences it gave, and the module
    /// problems its unwinder found first while unwinding it.
    struct Outcome {
        var report: ThreadReport
        var frames: Int
        var problems: [String]
        var moduleProblems: [String]
    }

    /// Guards `next`, `helping`, `outcomes` and `helped`; signalled when the helper stops.
    private let lock = ConditionLock()
    private let count: Int
    private var next = 0
    private var helping = false
    private var outcomes: [Outcome?]
    /// Threads the helper unwound.
    private(set) var helped = 0
    /// Makes the helper's unwinder (on the helper's thread); nil if it cannot have one.
    private let makeUnwinder: () -> RemoteUnwinder?
    /// Unwinds thread `index` with an unwinder.
    private let unwind: (Int, RemoteUnwinder) -> Outcome

    init(count: Int, makeUnwinder: @escaping () -> RemoteUnwinder?, unwind: @escaping (Int, RemoteUnwinder) -> Outcome) {
        self.count = count
        self.makeUnwinder = makeUnwinder
        self.unwind = unwind
        outcomes = Array(repeating: nil, count: count)
    }

    /// The next thread not yet taken, or nil.
    private func take() -> Int? {
        lock.withLock {
            guard next < count else { return nil }
            next += 1
            return next - 1
        }
    }

    private func store(_ outcome: Outcome, at index: Int, byHelper: Bool) {
        lock.withLock {
            outcomes[index] = outcome
            if byHelper { helped += 1 }
        }
    }

    /// On the helper's thread: takes threads until none is left (returns at once if none is).
    public func help() {
        let joins = lock.withLock {
            guard next < count, !helping else { return false }
            helping = true
            return true
        }
        guard joins else { return }
        if let unwinder = makeUnwinder() {
            while let index = take() { store(unwind(index, unwinder), at: index, byHelper: true) }
        }
        lock.withLock {
            helping = false
            lock.signal()
        }
    }

    /// On the stage's thread: takes threads until none is left, waits for the helper's last
    /// one, and returns every outcome in thread order.
    func run(with unwinder: RemoteUnwinder) -> [Outcome] {
        while let index = take() { store(unwind(index, unwinder), at: index, byHelper: false) }
        return lock.withLock(when: { !helping }) { outcomes.map { $0! } }
    }
}
