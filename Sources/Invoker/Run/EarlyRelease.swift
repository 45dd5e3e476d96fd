// EarlyRelease: lets a crashed server finish dying before the report is complete. The server
// waits (waitpid) for its helper to exit; once the stacks are captured and the target detached,
// the helper forks: the parent exits at once, the child (re-parented to init) symbolizes and
// writes the report. Only the child's work remains, and the server no longer waits for it.

#if canImport(Glibc)
import Glibc
#endif

enum EarlyRelease {
    enum Side { case parent, child, unforked }

    /// Forks. The caller's parent side must `_exit(0)` right away (no Swift cleanup, no flushing
    /// of buffers the child also holds). If fork fails the caller simply goes on (`unforked`):
    /// the server then waits for the whole report, as without early release.
    static func detachFromServer() -> Side {
        let child = fork()
        if child < 0 { return .unforked }
        if child > 0 { return .parent }
        // The child: a session of its own, so a terminal's or the server's process-group
        // signals (a restart script's kill of the group) do not cut the report short.
        _ = setsid()
        return .child
    }
}
