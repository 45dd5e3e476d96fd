// Handoff: one value passed once from one thread to another that waits for it (a mutex and a
// condition variable). The crash's second thread (WindowCompanion) starts at the attach and waits
// here for the snapshot the main thread copies meanwhile.

#if canImport(Glibc)
import Glibc
#endif

/// A one-shot mailbox: the first `give` counts (later ones are ignored), `take` waits until it was given.
package final class Handoff<Value>: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let ready = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: Value?
    private var given = false

    package init() {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(ready, nil)
    }

    deinit {
        pthread_cond_destroy(ready)
        pthread_mutex_destroy(lock)
        lock.deallocate()
        ready.deallocate()
    }

    /// Hands `value` over (wakes the taker), unless a value was given before.
    package func give(_ value: Value) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard !given else { return }
        given = true
        self.value = value
        pthread_cond_signal(ready)
    }

    /// Waits until a value was given and returns it.
    package func take() -> Value {
        pthread_mutex_lock(lock)
        while !given { pthread_cond_wait(ready, lock) }
        let given = value!
        pthread_mutex_unlock(lock)
        return given
    }
}
