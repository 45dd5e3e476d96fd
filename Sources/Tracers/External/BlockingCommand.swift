// BlockingCommand: runs a short helper program (traffic_ctl) to completion on the calling thread,
// bounded in time and output, without Swift concurrency. After the early release the report is
// finished in a process forked from a multi-threaded one, where libdispatch (and so
// swift-subprocess, which ExternalTracer uses) must not be used again; posix_spawn and poll may.
// No shell: the argv is executed as given, every signal at its default action, none blocked, in
// a process group of its own that is killed at the timeout.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import TracerKit

/// One run of a program, waited for on this thread.
public struct BlockingCommand: Sendable {
    /// How it ended.
    public struct Result: Sendable, Equatable {
        /// The exit status, nil when it did not exit by itself (killed, timed out, not started).
        public var exitStatus: Int32?
        /// Standard output and error together, cut at the output limit.
        public var output: String
        /// "exited with status 0", "timed out after 3 s (killed)", "could not run …".
        public var outcome: String
    }

    public var argv: [String]
    public var timeout: Double
    public var outputLimit: Int

    public init(_ argv: [String], timeout: Double, outputLimit: Int = 4 << 20) {
        self.argv = argv; self.timeout = timeout; self.outputLimit = outputLimit
    }

    /// Runs the program and waits for it, at most `timeout` seconds (and never past `deadline`).
    public func run(deadline: Deadline) -> Result {
        let end = Deadline.after(seconds: min(timeout, max(0, deadline.secondsRemaining)))
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            return Result(exitStatus: nil, output: "", outcome: "could not run \(argv[0]): pipe: \(Errno(rawValue: errno).sentence)")
        }
        // Close-on-exec: neither end may stay open in the program (or in anything else we start).
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let reader = FileDescriptor(rawValue: ends[0])
        defer { try? reader.close() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let arguments = argv.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, arguments, environ)
        close(ends[1])
        guard spawned == 0 else {
            return Result(exitStatus: nil, output: "", outcome: "could not run \(argv[0]): \(Errno(rawValue: spawned).sentence)")
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var timedOut = false
        while true {
            if end.hasExpired { timedOut = true; break }
            var pfd = pollfd(fd: reader.rawValue, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, min(1000, end.secondsRemaining * 1000))))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let got = chunk.withUnsafeMutableBytes { read(reader.rawValue, $0.baseAddress, $0.count) }
            if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if got <= 0 { break }
            // Past the limit the pipe is still drained, so the program never blocks on it.
            if output.count < outputLimit { output.append(contentsOf: chunk[0..<min(got, outputLimit - output.count)]) }
        }
        if timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = String(decoding: output, as: UTF8.self)
        if timedOut {
            return Result(exitStatus: nil, output: text, outcome: "timed out after \(timeout) s: its process group was killed")
        }
        if status & 0x7f == 0 {
            let code = (status >> 8) & 0xff
            return Result(exitStatus: code, output: text, outcome: code == 0 ? "exited with status 0" : "failed: exited with status \(code)")
        }
        return Result(exitStatus: nil, output: text, outcome: "failed: killed by \(SignalInfo.name(of: status & 0x7f))")
    }
}
