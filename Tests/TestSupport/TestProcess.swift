// TestProcess: real child processes for tests (posix_spawn), and the check every test that
// touches a process ends with: nothing of ours is left stopped, traced or as a zombie.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import TracerKit

/// A child process started with posix_spawn. Killed and reaped on `finish()`.
public final class TestProcess {
    public let pid: pid_t
    public private(set) var status: Int32?

    /// Starts `path` with `arguments`; `environment` entries are added to (or replace) ours.
    /// With `outputPath`, standard output and error go to that file.
    /// The read end of the pipe on the child's descriptor 3, with `reportPipe`.
    public private(set) var reportFD: Int32 = -1

    /// With `outputPath`, standard output and error go to that file; with `reportPipe`, the
    /// child's descriptor 3 is the write end of a pipe whose read end is `reportFD`.
    public init(_ path: String, _ arguments: [String] = [], environment: [String: String] = [:],
                outputPath: String? = nil, reportPipe: Bool = false) throws {
        var pid: pid_t = 0
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var merged: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") { merged[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
            cursor += 1
        }
        merged.merge(environment) { $1 }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let outputPath {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var pipeEnds: [Int32] = [-1, -1]
        if reportPipe {
            guard pipe(&pipeEnds) == 0 else { throw TestProcessError(message: "pipe failed") }
            for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            // dup2 clears close-on-exec on descriptor 3 only.
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 3)
        }
        defer { if reportPipe { close(pipeEnds[1]) } }
        // A test runs on a libdispatch worker thread, which blocks SIGCHLD among others; a child
        // would inherit that mask (gdb then waits for SIGCHLD forever). Start it as a shell would:
        // nothing blocked, every signal at its default action.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw TestProcessError(message: "posix_spawn \(path): \(String(cString: strerror(result)))") }
        self.pid = pid
        reportFD = pipeEnds[0]
    }

    /// Waits for the child to end and returns its raw wait status. A child still running after
    /// `seconds` is a hang: it is killed (SIGKILL, so the status says so and the test's own
    /// assertions fail) instead of stalling the whole run.
    @discardableResult
    public func waitForExit(seconds: Double = 120) -> Int32 {
        if let status { return status }
        var raw: Int32 = 0
        let ended = waitUntil(seconds: seconds) {
            let result = waitpid(pid, &raw, WNOHANG)
            return result == pid || (result < 0 && errno != EINTR)
        }
        if !ended {
            printHang("process \(pid) (\(readFile("/proc/\(pid)/comm")?.trimmingWhitespace() ?? "?")) did not exit within \(Int(seconds)) s; killed")
            kill(pid, SIGKILL)
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        }
        status = raw
        return raw
    }

    /// One line the child wrote to its descriptor 3 (see `reportPipe`), blocking until it does.
    public func readReportLine() -> String? {
        guard reportFD >= 0 else { return nil }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let got = read(reportFD, &byte, 1)
            if got < 0 && errno == EINTR { continue }
            if got <= 0 || byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// Kills (SIGKILL) and reaps the child if it is still running.
    public func finish() {
        if reportFD >= 0 { close(reportFD); reportFD = -1 }
        if status == nil {
            kill(pid, SIGKILL)
            waitForExit()
        }
    }

    /// Sends `signal` to the child (the kernel picks the thread that takes it).
    public func send(_ signal: Int32) { kill(pid, signal) }

    /// Sends `signal` to the child's main thread (tgkill), as a fault in that thread would raise it.
    public func sendToMainThread(_ signal: Int32) { _ = ivk_tgkill(pid, pid, signal) }

    /// The state letter of the process in /proc/PID/stat.
    public var state: String { LiveProcessSnapshot.threadState(pid: pid, tid: pid) }
}

/// Sends `signal` to the main thread of `pid`, a process the test did not start itself (tgkill).
public func sendToMainThread(of pid: pid_t, _ signal: Int32) { _ = ivk_tgkill(pid, pid, signal) }

/// The pids of `pid`'s children, whichever of its threads forked them (/proc/PID/task/TID/children).
public func childProcesses(of pid: pid_t) -> [pid_t] {
    ProcFile.numericEntries(of: "/proc/\(pid)/task").flatMap { tid in
        (readFile("/proc/\(pid)/task/\(tid)/children") ?? "").split(separator: " ").compactMap { pid_t($0) }
    }
}

extension TestProcess {

    /// TracerPid from /proc/PID/status.
    public var tracer: Int32? {
        ProcFile.readText("/proc/\(pid)/status").flatMap { ProcFile.field("TracerPid", in: $0) }.flatMap { Int32($0) }
    }
}

public struct TestProcessError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Processes descended from this test process that are stopped (T), traced (t or a TracerPid) or
/// zombies (Z). Every end-to-end test expects none.
public func leftoverProcesses() -> [String] {
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
public func ptraceUnavailableReason() -> String? {
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

/// The path of an executable this package builds (the fixtures, `invoker`), found next to the
/// running test bundle.
public func builtProduct(_ name: String) -> String {
    let bundle = ProcFile.readLink("/proc/self/exe") ?? ""
    let directory = bundle.split(separator: "/").dropLast().joined(separator: "/")
    return "/" + directory + "/" + name
}

/// A fresh temporary directory.
public func makeTemporaryDirectory(_ prefix: String = "invoker-test") -> String {
    var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { buffer in
        guard let result = mkdtemp(buffer.baseAddress!) else { return "/tmp" }
        return String(cString: result)
    }
}

/// The names of the entries in `directory`, sorted.
public func directoryEntries(_ directory: String) -> [String] { ProcFile.entries(of: directory) }

/// The whole text of a file, or nil.
public func readFile(_ path: String) -> String? { ProcFile.readText(path, limit: 64 << 20) }

/// The permission bits of a file.
public func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
}

/// Makes this test process the child subreaper of its descendants, so a helper orphaned by a
/// server that died first becomes our child and can be waited for.
public func adoptOrphans() {
    _ = ivk_become_child_subreaper()
}

/// Waits for every remaining child (orphans adopted with `adoptOrphans`) to exit. Children still
/// there after `seconds` are a hang: they are killed (and said so on standard error) so the test
/// fails on its own assertions instead of stalling the whole run.
public func reapAllChildren(seconds: Double = 120) {
    var status: Int32 = 0
    let done = waitUntil(seconds: seconds) {
        while true {
            let result = waitpid(-1, &status, WNOHANG)
            if result > 0 || (result < 0 && errno == EINTR) { continue }
            return result < 0
        }
    }
    guard !done else { return }
    for task in ProcFile.numericEntries(of: "/proc/self/task") {
        for child in (readFile("/proc/self/task/\(task)/children") ?? "").split(separator: " ").compactMap({ Int32($0) }) {
            printHang("child \(child) (\(readFile("/proc/\(child)/comm")?.trimmingWhitespace() ?? "?")) did not exit within \(Int(seconds)) s; killed")
            kill(child, SIGKILL)
        }
    }
    while waitpid(-1, &status, 0) > 0 || errno == EINTR {}
}

/// A hang the harness ended, on standard error (the test's own assertions then fail).
private func printHang(_ message: String) {
    let text = "TestSupport: " + message + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

extension TestProcess {
    /// Waits (polling /proc/PID/syscall, at most `seconds`) until the process is blocked in
    /// nanosleep or clock_nanosleep: /bin/sleep has then finished starting (a process just
    /// spawned may still be in the dynamic loader, with its files open).
    @discardableResult
    public func waitUntilSleeping(seconds: Double = 10) -> Bool {
        waitUntil(seconds: seconds) {
            let call = readFile("/proc/\(pid)/syscall")?.split(separator: " ").first
            return call == "230" || call == "35"
        }
    }
}

/// Polls `condition` every millisecond until it holds (true) or `seconds` pass (false): for
/// readiness a test can only observe, never a guessed delay.
public func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = Deadline.after(seconds: seconds)
    while !condition() {
        if end.hasExpired { return false }
        var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
        nanosleep(&pause, nil)
    }
    return true
}
