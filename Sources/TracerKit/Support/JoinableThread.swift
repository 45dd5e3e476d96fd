// JoinableThread: one POSIX thread that runs one closure and is joined for its result. A crash's
// capture runs on the main thread (ptrace requests must come from the thread that attached, and
// no Swift concurrency worker pool is started inside the server's downtime); work that needs no
// tracer runs alongside it on such a thread, on the machine's other core.

#if canImport(Glibc)
import Glibc
#endif

/// A thread that runs `body` once; `join()` waits for it and returns what it returned.
///
/// Whatever `body` touches must not be touched by the starting thread until `join()` returns
/// (the join is the only synchronisation). If no thread can be started, `body` runs in `join()`
/// on the caller's thread: the same result, without the overlap.
package final class JoinableThread<Value>: @unchecked Sendable {
    /// Where the thread leaves its value.
    private final class Slot: @unchecked Sendable {
        var value: Value?
    }

    private let slot = Slot()
    /// The thread, or nil if none could be started (then `body` waits for `join()`).
    private var thread: pthread_t?
    private var body: (() -> Value)?

    /// Starts `body` on a new thread.
    package init(_ body: @escaping () -> Value) {
        let slot = slot
        thread = startThread { slot.value = body() }
        self.body = thread == nil ? body : nil
    }

    /// Waits for the thread (or, if none could be started, runs `body` here) and returns its value.
    package func join() -> Value {
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        } else if let body {
            slot.value = body()
            self.body = nil
        }
        return slot.value!
    }
}

/// What a started thread runs (a class: the C entry point gets it as its argument).
private final class ThreadEntry {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Starts a POSIX thread running `run`; nil if none could be started.
private func startThread(_ run: @escaping () -> Void) -> pthread_t? {
    let entry = Unmanaged.passRetained(ThreadEntry(run)).toOpaque()
    var thread = pthread_t()
    guard pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadEntry>.fromOpaque(raw!).takeRetainedValue().run()
        return nil
    }, entry) == 0 else {
        Unmanaged<ThreadEntry>.fromOpaque(entry).release()
        return nil
    }
    return thread
}
