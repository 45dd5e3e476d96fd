// TestProcess: real child processes for tests (posix_spawn), and the check every test that
// touches a process ends with: nothing of ours is left stopped, traced or as a zombie.

#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TracerKit

/// A child process started with posix_spawn. Killed and reaped on `finish()`.
final class TestProcess {
    let pid: pid_t
    private(set) var status: Int32?

    init(_ path: String, _ arguments: [String] = []) throws {
        var pid: pid_t = 0
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let result = posix_spawn(&pid, path, nil, nil, argv, environ)
        guard result == 0 else { throw TestProcessError(message: "posix_spawn \(path): \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    /// Waits for the child to end and returns its raw wait status.
    @discardableResult
    func waitForExit() -> Int32 {
        if let status { return status }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        status = raw
        return raw
    }

    /// Kills (SIGKILL) and reaps the child if it is still running.
    func finish() {
        if status == nil {
            kill(pid, SIGKILL)
            waitForExit()
        }
    }

    /// The state letter of the process in /proc/PID/stat.
    var state: String { ProcessSnapshot.threadState(pid: pid, tid: pid) }

    /// TracerPid from /proc/PID/status.
    var tracer: Int32? {
        ProcFile.readText("/proc/\(pid)/status").flatMap { ProcFile.field("TracerPid", in: $0) }.flatMap { Int32($0) }
    }
}

struct TestProcessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Processes descended from this test process that are stopped (T), traced (t or a TracerPid) or
/// zombies (Z). Every end-to-end test expects none.
func leftoverProcesses() -> [String] {
    let me = getpid()
    var parents: [Int32: Int32] = [:]
    var states: [Int32: String] = [:]
    for pid in ProcFile.numericEntries(of: "/proc") {
        guard let stat = ProcFile.readText("/proc/\(pid)/stat", limit: 4096), let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let ppid = Int32(fields[1]) else { continue }
        parents[pid] = ppid
        states[pid] = String(fields[0])
    }
    func isDescendant(_ pid: Int32) -> Bool {
        var current = pid, hops = 0
        while let parent = parents[current], hops < 64 {
            if parent == me { return true }
            current = parent; hops += 1
        }
        return false
    }
    var bad: [String] = []
    for (pid, state) in states where isDescendant(pid) {
        let tracer = ProcFile.readText("/proc/\(pid)/status").flatMap { ProcFile.field("TracerPid", in: $0) } ?? "0"
        if state == "T" || state == "t" || state == "Z" || tracer != "0" {
            let comm = ProcFile.readText("/proc/\(pid)/comm")?.trimmingWhitespace() ?? "?"
            bad.append("\(pid) \(comm) state \(state) tracer \(tracer)")
        }
    }
    return bad
}

/// Whether this machine lets us ptrace at all (not in a container without CAP_SYS_PTRACE, Yama
/// permitting); the reason when it does not.
func ptraceUnavailableReason() -> String? {
    guard let child = try? TestProcess("/bin/sleep", ["30"]) else { return "cannot start /bin/sleep" }
    defer { child.finish() }
    do {
        let session = try PtraceSession.attach(pid: child.pid, deadline: .after(seconds: 5))
        session.detach()
        return nil
    } catch {
        return "ptrace is not permitted here: \(error)"
    }
}
