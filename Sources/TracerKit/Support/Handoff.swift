// Handoff: one value passed once from one thread to another that waits for it (ConditionLock).
// The crash's second thread (WindowCompanion) starts at the attach and waits here for the
// snapshot the main thread copies meanwhile.

/// A one-shot mailbox: the first `give` counts (later ones are ignored), `take` waits until it was given.
package final class Handoff<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value?
    private var given = false

    package init() {}

    /// Hands `value` over (wakes the taker), unless a value was given before.
    package func give(_ value: Value) {
        lock.withLock {
            guard !given else { return }
            given = true
            self.value = value
            lock.signal()
        }
    }

    /// Waits until a value was given and returns it.
    package func take() -> Value {
        lock.withLock(when: { given }) { value! }
    }
}
