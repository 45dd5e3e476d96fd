// ConditionLock: a mutex and one condition variable (pthread's; the Synchronization module's
// Mutex has no condition to wait on), for the places where a crash's two threads hand work over:
// a value passed once (Handoff), the threads to unwind shared with a helper (UnwindShare).

#if canImport(Glibc)
import Glibc
#endif

/// A lock whose holder can wait for a condition that another holder makes true.
package final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Runs `body` holding the lock, first waiting (the lock released meanwhile) until `ready`
    /// holds; `body` may `signal()` a waiter.
    package func withLock<T>(when ready: () -> Bool = { true }, _ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready() { pthread_cond_wait(condition, mutex) }
        return try body()
    }

    /// Wakes a thread waiting in `withLock(when:)`; call it holding the lock.
    package func signal() { pthread_cond_signal(condition) }
}
