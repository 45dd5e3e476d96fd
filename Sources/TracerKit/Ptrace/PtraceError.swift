// PtraceError: why attaching to or reading a target failed, as sentences an operator can act on.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Errors of the ptrace layer.
public enum PtraceError: Error, Equatable, CustomStringConvertible {
    /// The process is gone (it exited before or while we attached).
    case processGone(pid: Int32)
    /// The kernel refused to let us trace the thread; `reason` says why as far as we can tell.
    case notPermitted(pid: Int32, tid: Int32, errno: Errno, reason: String)
    /// Another ptrace call failed.
    case systemCall(operation: String, tid: Int32, errno: Errno)
    /// A seized thread did not stop within the stop budget (`stop_timeout`); `state` and `wchan`
    /// are what /proc said about it then.
    case didNotStop(pid: Int32, tid: Int32, name: String, seconds: Double, state: String, wchan: String)
    /// No thread of the process could be stopped; one sentence per thread.
    case noThreadStopped(pid: Int32, reasons: [String])

    public var description: String {
        switch self {
        case let .processGone(pid):
            "Process \(pid) exited before its threads could be stopped; nothing could be captured from it."
        case let .notPermitted(pid, tid, error, reason):
            "Cannot attach to thread \(tid) of process \(pid): \(error.symbolicName) — \(reason)"
        case let .systemCall(operation, tid, error):
            "\(operation) on thread \(tid) failed: \(error.sentence)."
        case let .didNotStop(pid, tid, name, seconds, state, wchan):
            "Thread \(tid) (\(name)) of process \(pid) did not stop within \(Double(Int((seconds * 100).rounded())) / 100) s (stop_timeout): "
                + (state == "D" ? "it is in uninterruptible sleep (state D" : "it is in state \(state) (")
                + (wchan.isEmpty || wchan == "0" ? ")" : ", waiting in \(wchan))")
                + "; its stack is not in this report, the other threads were captured."
        case let .noThreadStopped(pid, reasons):
            "No thread of process \(pid) could be stopped: " + reasons.joined(separator: " ")
        }
    }

    /// Explains an EPERM from PTRACE_SEIZE: Yama, a missing capability, another tracer, or a
    /// process of another user.
    static func explainPermission(pid: Int32, tid: Int32) -> String {
        var reasons: [String] = []
        // The thread's own status: one thread of a process can be traced while the others are not.
        if let status = ProcFile.readText("/proc/\(pid)/task/\(tid)/status", limit: 8192)
            ?? ProcFile.readText("/proc/\(pid)/status", limit: 8192),
           let tracer = ProcFile.field("TracerPid", in: status), tracer != "0" {
            let name = ProcFile.readText("/proc/\(tracer)/comm", limit: 64)?.trimmingWhitespace() ?? "?"
            reasons.append("process \(tracer) (\(name)) is already tracing it; only one tracer at a time")
        }
        if let scope = ProcFile.readText("/proc/sys/kernel/yama/ptrace_scope", limit: 16)?.trimmingWhitespace(),
           let level = Int(scope), level > 0 {
            switch level {
            case 1: reasons.append("Yama ptrace_scope is 1 and the target is not our descendant and did not call prctl(PR_SET_PTRACER) for us")
            case 2: reasons.append("Yama ptrace_scope is 2: only a process with CAP_SYS_PTRACE may attach")
            default: reasons.append("Yama ptrace_scope is \(level): ptrace attach is disabled on this system")
            }
        }
        if !hasCapSysPtrace(), let status = ProcFile.readText("/proc/\(pid)/status", limit: 8192) {
            // The kernel (__ptrace_may_access) compares our REAL uid and gid with all of the
            // target's, and otherwise wants CAP_SYS_PTRACE in effect, which a process whose
            // effective uid is not 0 has not, whatever its real uid.
            let ours = UserIDs.current
            let targetUIDs = ids(ProcFile.field("Uid", in: status))
            let ourGID = getgid()
            let targetGIDs = ids(ProcFile.field("Gid", in: status))
            let who = ours.real == ours.effective ? "we run as uid \(ours.real)" : "we run with \(ours)"
            if let other = targetUIDs.first(where: { $0 != ours.real }) {
                reasons.append("the target runs as uid \(other), \(who) and without CAP_SYS_PTRACE in effect (the kernel compares the real uid)"
                               + (ours.canRegainRoot ? "; the effective uid could be set back to 0" : ""))
            } else if let other = targetGIDs.first(where: { $0 != ourGID }) {
                reasons.append("the target runs as gid \(other), we run with real gid \(ourGID) and without CAP_SYS_PTRACE in effect")
            } else {
                var info = stat()
                if stat("/proc/\(pid)", &info) == 0, info.st_uid == 0, ours.real != 0 {
                    reasons.append("the target is not dumpable (it changed its user), which needs CAP_SYS_PTRACE, and \(who) without it")
                }
            }
        }
        if let status = ProcFile.readText("/proc/self/status", limit: 8192),
           let seccomp = ProcFile.field("Seccomp", in: status), seccomp != "0" {
            reasons.append("this helper runs under a seccomp filter (mode \(seccomp)), as in many containers")
        }
        if reasons.isEmpty {
            reasons.append("the kernel refused (a container without CAP_SYS_PTRACE, or a security module such as SELinux or AppArmor)")
        }
        return reasons.joined(separator: "; ") + "."
    }

    /// The numbers of a /proc status line such as "Uid:\t0\t102\t0\t102".
    private static func ids(_ line: String?) -> [UInt32] {
        (line ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
    }

    static func hasCapSysPtrace() -> Bool {
        guard let status = ProcFile.readText("/proc/self/status", limit: 8192),
              let hex = ProcFile.field("CapEff", in: status), let caps = UInt64(hex, radix: 16) else { return false }
        return caps & (1 << 19) != 0  // CAP_SYS_PTRACE
    }
}
