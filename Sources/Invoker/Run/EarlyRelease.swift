// EarlyRelease: lets a crashed server finish dying before the report is complete. The server
// waits (waitpid) for its helper to exit; once the stacks are captured and the target detached,
// the helper forks: the parent exits at once, the child (re-parented to init) symbolizes and
// writes the report. Only the child's work remains, and the server no longer waits for it.
//
// Right after a crash's capture the helper has one thread, and the parent does nothing but exit:
// then the child shares the parent's memory instead of a copy (clone with CLONE_VM, in the C
// shim), so the release costs neither fork()'s copy of the page tables nor the parent's teardown
// of its address space at exit (2–5 ms at 256 threads, inside the server's downtime).

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import TracerKit

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
        yieldToTheServer()
        return .child
    }

    /// The child finishes the report at a lower priority (nice 10): the server that just got its
    /// threads back, or is restarting, comes first for the CPU; the report still completes.
    static func yieldToTheServer() {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
    }

    /// As `detachFromServer()`, but the parent side exits right here with `exitStatus` (never
    /// returning `.parent`); when this process has one thread, the child shares its memory
    /// instead of a copy (`ivk_continue_in_child_and_exit`), otherwise it forks.
    static func detachFromServer(exitingWith exitStatus: Int32) -> Side {
        if ProcFile.numericEntries(of: "/proc/self/task").count == 1, ivk_continue_in_child_and_exit(exitStatus) == 0 {
            _ = setsid()
            yieldToTheServer()
            return .child
        }
        let side = detachFromServer()
        if side == .parent { _exit(exitStatus) }
        return side
    }
}
