// PtraceSession: stops every thread of a target exactly once and always lets them go again.
//
// Attach: PTRACE_SEIZE each thread listed in /proc/PID/task, then PTRACE_INTERRUPT it; wait for
// each to report its stop (waitpid __WALL, polled against the stop budget so a thread stuck in
// uninterruptible sleep cannot hold us); re-scan /proc/PID/task until a scan finds no thread we
// have not seized (threads born while we attached). Threads that vanish (ESRCH, or an exit
// reported by waitpid) are dropped. A thread that cannot be seized (already under another
// tracer) or does not stop within the budget is left out, with its own reason in `unstopped`:
// the others are still captured. A thread whose stop turned out to be a signal-delivery stop
// gets that signal back on detach.
//
// Detach: PTRACE_DETACH every thread still held; also from `deinit`, so no error path can leave
// the target stopped or traced. A helper that exits right after (a crash's early release) leaves
// most threads to the kernel, which detaches an exiting tracer's tracees
// (detachWhatExitWouldNot). A seized thread that never stopped cannot be detached while it runs
// (ESRCH): it is retried at detach, and the kernel releases it when the helper exits.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import SystemPackage

/// One thread held by a session.
public struct StoppedThread: Sendable, Equatable {
    public var tid: Int32
    /// A signal that was being delivered when the thread stopped; re-delivered on detach.
    public var pendingSignal: Int32
}

/// A thread a session could not stop, and why.
public struct UnstoppedThread: Sendable, Equatable {
    public var tid: Int32
    /// The whole sentence for the report.
    public var reason: String
    /// Whether PTRACE_SEIZE refused it (rather than it not stopping in time).
    public var wasRefused: Bool
}

/// A ptrace session over every thread of one process.
///
/// ptrace ties each tracee to the tracing *thread*: attach, read and detach from one thread, with
/// no `await` in between. If that thread exits first, the kernel releases the tracees.
public final class PtraceSession {
    public let pid: Int32
    /// The threads currently stopped by this session, in /proc/PID/task order.
    public private(set) var threads: [StoppedThread] = []
    /// Threads that existed but vanished while we attached.
    public private(set) var vanishedThreads: [Int32] = []
    /// Threads that exist but could not be stopped, each with its reason (they are not captured).
    public private(set) var unstopped: [UnstoppedThread] = []
    /// Sentences about anything that went wrong but did not stop the attach (including one per
    /// thread of `unstopped`).
    public private(set) var problems: [String] = []
    /// Seized threads that never stopped: PTRACE_DETACH is retried on them at `detach()`.
    private var seizedRunning: [Int32] = []
    /// Threads `detachWhatExitWouldNot()` released already.
    private var detachedEarly: Set<Int32> = []
    private var isAttached = true

    private init(pid: Int32) { self.pid = pid }

    deinit { detach() }

    /// The default of `stopTimeout`: stopping a thread takes microseconds unless it sleeps
    /// uninterruptibly.
    public static let defaultStopTimeout = 2.0

    /// Stops every thread of `pid` that can be stopped, waiting at most `stopTimeout` seconds,
    /// and at most half the time left before `deadline` (the rest is for unwinding what stopped),
    /// for the threads to stop. Throws if no thread could be stopped; on any throw, every thread
    /// already seized has been released.
    /// With `only`, just those threads are stopped (a live snapshot stops its target a batch at a
    /// time), and threads started meanwhile are not looked for.
    public static func attach(pid: Int32, deadline: Deadline, stopTimeout: Double = defaultStopTimeout,
                              only: [Int32]? = nil) throws(PtraceError) -> PtraceSession {
        let session = PtraceSession(pid: pid)
        let budget = min(max(0, stopTimeout), deadline.secondsRemaining / 2)
        do {
            try session.stopAllThreads(deadline: Deadline.now().adding(seconds: budget), budget: budget, only: only)
        } catch {
            session.detach()
            throw error
        }
        return session
    }

    private func stopAllThreads(deadline: Deadline, budget: Double, only: [Int32]?) throws(PtraceError) {
        var seized = Set<Int32>()
        var waiting: [Int32] = []
        // The first thread that could not be seized: thrown if no thread at all could be.
        var firstRefusal: PtraceError? = nil
        while true {
            let listed = only.map { given in seized.isEmpty ? given : [] } ?? ProcFile.numericEntries(of: "/proc/\(pid)/task")
            let fresh = listed.filter { !seized.contains($0) }
            if fresh.isEmpty { break }
            for tid in fresh {
                seized.insert(tid)
                if ivk_ptrace_seize(tid, 0) != 0 {
                    let error = Errno(rawValue: errno)
                    if error == .noSuchProcess { vanishedThreads.append(tid); continue }
                    // A thread that has exited but is still listed (a main thread that ended with
                    // pthread_exit stays a zombie while the others run) refuses with EPERM.
                    let state = LiveProcessSnapshot.threadState(pid: pid, tid: tid)
                    if state == "Z" || state == "X" {
                        vanishedThreads.append(tid)
                        problems.append("Thread \(tid) has exited (state \(state), a zombie until its process ends: a main thread that called pthread_exit, or a process exiting); it has no stack to capture.")
                        continue
                    }
                    let refusal: PtraceError = error == .notPermitted || error == .permissionDenied
                        ? .notPermitted(pid: pid, tid: tid, errno: error, reason: PtraceError.explainPermission(pid: pid, tid: tid))
                        : .systemCall(operation: "PTRACE_SEIZE", tid: tid, errno: error)
                    firstRefusal = firstRefusal ?? refusal
                    leaveOut(tid, refused: true,
                             reason: refusal.description + " Its stack is not in this report; the other threads were captured.")
                    continue
                }
                // Seized: from here on the thread must be detached whatever happens.
                threads.append(StoppedThread(tid: tid, pendingSignal: 0))
                if ivk_ptrace_interrupt(tid) != 0 {
                    problems.append("PTRACE_INTERRUPT of thread \(tid) failed: \(Errno(rawValue: errno).sentence).")
                }
                waiting.append(tid)
            }
            waitForStops(&waiting, deadline: deadline, budget: budget)
        }
        if threads.isEmpty {
            // Refused as a whole (Yama, another user): the first refusal says why. Otherwise each
            // thread's own reason.
            if let firstRefusal, unstopped.allSatisfy(\.wasRefused) { throw firstRefusal }
            if !unstopped.isEmpty { throw .noThreadStopped(pid: pid, reasons: unstopped.map(\.reason)) }
            throw .processGone(pid: pid)
        }
    }

    private func leaveOut(_ tid: Int32, refused: Bool = false, reason: String) {
        unstopped.append(UnstoppedThread(tid: tid, reason: reason, wasRefused: refused))
        problems.append(reason)
    }

    /// Waits until every thread in `waiting` has reported a ptrace-stop or its exit, or the
    /// stop budget (`deadline`) has passed: the threads still running are then left out.
    private func waitForStops(_ waiting: inout [Int32], deadline: Deadline, budget: Double) {
        var spins = 0
        while !waiting.isEmpty {
            var stillWaiting: [Int32] = []
            for tid in waiting {
                var status: Int32 = 0
                let result = waitpid(tid, &status, __WALL | WNOHANG)
                if result == 0 { stillWaiting.append(tid); continue }
                if result < 0 {
                    if errno == EINTR { stillWaiting.append(tid); continue }
                    // ECHILD: the thread is gone (reaped with its process).
                    forget(tid)
                    continue
                }
                if ivk_wifexited(status) != 0 || ivk_wifsignaled(status) != 0 {
                    forget(tid)
                    continue
                }
                if ivk_wifstopped(status) != 0 {
                    let signal = ivk_wstopsig(status)
                    let event = ivk_wptrace_event(status)
                    // PTRACE_EVENT_STOP (our interrupt, or a group-stop) carries no signal to give
                    // back; any other stop is a signal-delivery stop whose signal we re-inject.
                    if event == 0 && signal != SIGTRAP, let index = threads.firstIndex(where: { $0.tid == tid }) {
                        threads[index].pendingSignal = signal
                    }
                }
            }
            waiting = stillWaiting
            if waiting.isEmpty { break }
            if deadline.hasExpired {
                // Give up on those: release them now rather than report them as stopped.
                for tid in waiting {
                    release(tid)
                    let state = LiveProcessSnapshot.threadState(pid: pid, tid: tid)
                    let wchan = ProcFile.readText("/proc/\(pid)/task/\(tid)/wchan", limit: 128)?.trimmingWhitespace()
                    let name = ProcFile.readText("/proc/\(pid)/task/\(tid)/comm", limit: 64)?.trimmingWhitespace()
                    leaveOut(tid, reason: PtraceError.didNotStop(pid: pid, tid: tid, name: name ?? "?", seconds: budget,
                                                                state: state, wchan: wchan ?? "").description)
                }
                waiting = []
                break
            }
            spins += 1
            if spins > 8 { pause(microseconds: 50) }
        }
    }

    private func forget(_ tid: Int32) {
        threads.removeAll { $0.tid == tid }
        vanishedThreads.append(tid)
    }

    /// Lets a seized thread go and forgets it. A thread that is not in a ptrace-stop cannot be
    /// detached (ESRCH): its detach is retried in `detach()`.
    private func release(_ tid: Int32) {
        if ivk_ptrace_detach(tid, 0) != 0 && errno == ESRCH { seizedRunning.append(tid) }
        threads.removeAll { $0.tid == tid }
    }

    /// The registers of a stopped thread.
    public func registers(of tid: Int32) throws(PtraceError) -> Registers {
        var regs = user_regs_struct()
        if ivk_ptrace_getregs(tid, &regs) != 0 {
            let error = Errno(rawValue: errno)
            if error == .noSuchProcess { forget(tid) }
            throw .systemCall(operation: "PTRACE_GETREGS", tid: tid, errno: error)
        }
        return Registers(regs)
    }

    /// The low 8 bytes of xmm0–xmm15 of a stopped thread (PTRACE_GETFPREGS).
    public func xmmLow(of tid: Int32) throws(PtraceError) -> [UInt64] {
        var values = [UInt64](repeating: 0, count: Int(IVK_XMM_COUNT))
        if ivk_ptrace_get_xmm_low(tid, &values) != 0 {
            throw .systemCall(operation: "PTRACE_GETFPREGS", tid: tid, errno: Errno(rawValue: errno))
        }
        return values
    }

    /// For a helper about to exit (a crash's early release): detaches now only the threads that
    /// the kernel's detach at our exit would not release as `detach()` does (a thread stopped with
    /// a signal to deliver: PTRACE_DETACH re-injects it, the exit would drop it; a seized thread
    /// that stopped late), and leaves the rest held. The kernel detaches every tracee of a tracer
    /// that exits (before its parent learns of the exit), with no PTRACE_DETACH per thread and no
    /// wait for each to be off its CPU. Afterwards: `detach()` if this process does not exit
    /// after all, `disown()` in a forked child (which traces nothing).
    public func detachWhatExitWouldNot() {
        guard isAttached else { return }
        for index in threads.indices where threads[index].pendingSignal != 0 {
            _ = ivk_ptrace_detach(threads[index].tid, threads[index].pendingSignal)
            detachedEarly.insert(threads[index].tid)
        }
        detachLateStoppers()
    }

    /// Forgets the threads without detaching them: for a forked child of the tracer, whose
    /// requests would fail (the threads are its parent's tracees, released at its exit).
    public func disown() { isAttached = false }

    /// Releases every thread. Idempotent; also called from `deinit`.
    public func detach() {
        guard isAttached else { return }
        isAttached = false
        for thread in threads where !detachedEarly.contains(thread.tid) {
            // ESRCH here means the thread already died; nothing left to release.
            _ = ivk_ptrace_detach(thread.tid, thread.pendingSignal)
        }
        detachLateStoppers()
    }

    private func detachLateStoppers() {
        // Seized threads that did not stop in time may have stopped since (our PTRACE_INTERRUPT
        // took effect late): detach them now. One still running stays seized until we exit.
        for tid in seizedRunning {
            var status: Int32 = 0
            _ = waitpid(tid, &status, __WALL | WNOHANG)
            _ = ivk_ptrace_detach(tid, 0)
        }
    }
}
