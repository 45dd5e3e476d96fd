// Handshake: the helper's side of the protocol with a server that forked it (Traffic Server's
// crash_log_helper protocol, also spoken by our fixtures):
//
//   1. park():  arm the parent-death signal (SIGCONT), check the parent is still the one that
//               forked us, then stop ourselves with SIGSTOP. The server waits (waitpid WUNTRACED)
//               until we are stopped before it goes on starting up.
//   2. wake:    the server's fatal-signal handler sends SIGCONT, writes the payload to our stdin
//               and closes it; or the server exits and the parent-death SIGCONT wakes us with
//               stdin at EOF.
//   3. awaitServer(): a SIGCONT alone proves nothing (job control on the server's process group
//               sends one too): wait until stdin is readable (bytes: a crash; EOF: a shutdown) or
//               the parent is gone. A wake with neither is a stray SIGCONT: keep waiting.
//   4. readPayload(): read stdin to EOF (bounded by the run's deadline), then decide from the bytes.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import SystemPackage

/// What woke a parked helper.
public enum WakeReason: Sendable, Equatable {
    /// A crash: the decoded payload.
    case crash(CrashPayload)
    /// Stdin reached EOF with nothing written: the server shut down cleanly (or died without
    /// speaking). Write nothing, exit 0.
    case shutdown
}

/// What ended the wait that follows a wake.
public enum ServerEvent: Sendable, Equatable {
    /// Standard input is readable: a payload, or EOF (a shutdown). `readPayload` tells which.
    case input
    /// The parent that forked us is gone and said nothing on standard input.
    case parentGone
}

/// Errors of the handshake.
public enum HandshakeError: Error, CustomStringConvertible, Equatable {
    /// The parent that forked us is already gone (we were re-parented before parking).
    case parentGone(expected: Int32, actual: Int32)
    case systemCall(operation: String, errno: Errno)

    public var description: String {
        switch self {
        case let .parentGone(expected, actual):
            "The process that started the helper (pid \(expected)) is gone (parent is now \(actual)); nothing to wait for."
        case let .systemCall(operation, error):
            "The crash handshake failed: \(operation) returned \(error.sentence)."
        }
    }
}

/// The helper's side of the crash handshake.
public enum Handshake {
    /// Arms SIGCONT as the parent-death signal, checks that `parent` is still our parent, and
    /// stops this process until it receives SIGCONT. Returns once woken.
    public static func park(parent: Int32) throws(HandshakeError) {
        // PR_SET_PDEATHSIG first, then getppid(): if the parent died in between, getppid()
        // already shows the re-parenting and we do not stop forever.
        if ivk_set_parent_death_signal(SIGCONT) != 0 {
            throw .systemCall(operation: "prctl(PR_SET_PDEATHSIG, SIGCONT)", errno: Errno(rawValue: errno))
        }
        let actual = getppid()
        guard actual == parent else { throw .parentGone(expected: parent, actual: actual) }
        // raise() targets this thread; the whole (single-threaded) process stops. The server's
        // waitpid(WUNTRACED) sees the stop and continues its start-up.
        if raise(SIGSTOP) != 0 {
            throw .systemCall(operation: "raise(SIGSTOP)", errno: Errno(rawValue: errno))
        }
    }

    /// Waits after a wake until the server speaks: `input` readable (a payload, or EOF) or the
    /// parent gone. A wake that brings neither within `grace` seconds is a stray SIGCONT (job
    /// control on the server's process group, not a crash): `onStrayWake` is called once and the
    /// wait goes on with no time limit, as parked, so the next crash is still captured. A server
    /// sends SIGCONT before it writes, so a slow write only delays the return, never loses it.
    public static func awaitServer(input: FileDescriptor, parent: Int32, grace: Double = 1,
                                   onStrayWake: () -> Void) -> ServerEvent {
        if waitReadable(input, alsoWatching: -1, milliseconds: Int32(grace * 1000)) { return .input }
        if getppid() != parent { return .parentGone }
        onStrayWake()
        // pidfd_open (Linux 5.3+) polls readable when the parent exits: one wait for both events.
        // Without it, look at getppid() once a second.
        let parentFD = ivk_pidfd_open(parent)
        defer { if parentFD >= 0 { close(parentFD) } }
        while true {
            if waitReadable(input, alsoWatching: parentFD, milliseconds: parentFD >= 0 ? -1 : 1000) { return .input }
            // A server that wrote its payload and died at once left both: the payload wins.
            if pollOnce(input.rawValue) { return .input }
            if getppid() != parent || (parentFD >= 0 && pollOnce(parentFD)) { return .parentGone }
        }
    }

    /// Whether `input` became readable (data, EOF or an error) within `milliseconds` (-1: no
    /// limit); false early when `other` (if >= 0) becomes readable first.
    static func waitReadable(_ input: FileDescriptor, alsoWatching other: Int32, milliseconds: Int32) -> Bool {
        var fds = [pollfd(fd: input.rawValue, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: other, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&fds, other >= 0 ? 2 : 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            // poll failing on our own stdin: let readPayload meet the error and decide.
            if ready < 0 { return true }
            return fds[0].revents != 0
        }
    }

    static func pollOnce(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0 && pfd.revents != 0
    }

    /// Reads `input` to EOF (at most `limit` bytes; the rest is drained and ignored) and says
    /// what the server meant by it.
    public static func readPayload(from input: FileDescriptor, limit: Int = 1 << 20,
                                   deadline: Deadline = .after(seconds: 5)) -> WakeReason {
        let bytes = readToEnd(input, limit: limit, deadline: deadline)
        guard let payload = CrashPayload.decode(bytes) else { return .shutdown }
        return .crash(payload)
    }

    /// Reads to EOF, bounded in bytes and time. A server that never closes its end must not hold
    /// us forever: after the deadline we take what arrived.
    static func readToEnd(_ input: FileDescriptor, limit: Int, deadline: Deadline) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        reading: while !deadline.hasExpired {
            switch input.waitForInput(before: deadline) {
            case .notYet: continue
            case .failed: break reading
            case .readable: break
            }
            guard let got = chunk.withUnsafeMutableBytes({ input.readAvailable(into: $0) }) else { continue }
            if got == 0 { break }
            if bytes.count < limit { bytes.append(contentsOf: chunk[0..<min(got, limit - bytes.count)]) }
        }
        return bytes
    }
}
