// ClientRequest: what libinvoker-client (Sources/InvokerClient) asks its parked helper. The
// client speaks Traffic Server master's payload layout, framed so that one connection carries
// any number of snapshots before the crash:
//
//   int signo, pid_t tid, siginfo_t, ucontext_t, uint32 n, n bytes
//
// signo > 0 is a crash (n = 0; the client then closes the socket); signo 0 is a snapshot
// request whose n bytes are the reason, after which the client keeps the socket open and waits
// for the helper to stop itself again. EOF before any byte is a clean shutdown.

import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A request from libinvoker-client.
public enum ClientRequest: Sendable, Equatable {
    /// The program crashed: the payload as a Traffic Server master payload.
    case crash(CrashPayload)
    /// The program asks for a live capture and goes on running.
    case snapshot(thread: Int32, reason: String)
    /// The program exited (our end of the socket closed with nothing written).
    case shutdown
    /// Nothing arrived and the socket is still open: a stray SIGCONT woke us; park again.
    case idle

    /// The fixed part of a request: signo + tid + siginfo + ucontext + length word.
    static let fixedSize = 4 + CrashPayload.v102Fixed
    /// The longest reason read; the client sends at most 1023 bytes.
    static let reasonLimit = 64 * 1024

    /// Decodes one framed request (the fixed part and the n bytes it announces).
    public static func decode(_ bytes: [UInt8]) -> ClientRequest {
        guard !bytes.isEmpty else { return .shutdown }
        if bytes.count >= fixedSize, CrashPayload.readInt32(bytes, at: 0) == 0,
           let thread = CrashPayload.readInt32(bytes, at: 4) {
            let text = bytes[fixedSize...].prefix(reasonLimit)
            return .snapshot(thread: thread, reason: String(decoding: text, as: UTF8.self))
        }
        return CrashPayload.decode(bytes).map(ClientRequest.crash) ?? .shutdown
    }
}

extension Handshake {
    /// Reads one framed client request from `input`: the fixed part, then the n bytes it
    /// announces (bounded), never waiting for EOF (the client keeps the socket open after a
    /// snapshot request). Whatever arrived by the deadline is decoded.
    public static func readClientRequest(from input: FileDescriptor,
                                         deadline: Deadline = .after(seconds: 5)) -> ClientRequest {
        var (bytes, atEnd) = readExactly(input, count: ClientRequest.fixedSize, deadline: deadline)
        if bytes.isEmpty && !atEnd { return .idle }
        if bytes.count == ClientRequest.fixedSize,
           let length = CrashPayload.readUInt32(bytes, at: ClientRequest.fixedSize - 4), length > 0 {
            bytes += readExactly(input, count: min(Int(length), ClientRequest.reasonLimit), deadline: deadline).bytes
        }
        return ClientRequest.decode(bytes)
    }

    /// Up to `count` bytes: fewer at EOF or an error (`atEnd`), or at the deadline.
    static func readExactly(_ input: FileDescriptor, count: Int, deadline: Deadline) -> (bytes: [UInt8], atEnd: Bool) {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < count && !deadline.hasExpired {
            switch input.waitForInput(before: deadline) {
            case .notYet: continue
            case .failed: return (bytes, true)
            case .readable: break
            }
            let wanted = min(chunk.count, count - bytes.count)
            guard let got = chunk.withUnsafeMutableBytes({ input.readAvailable(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<wanted])) })
            else { continue }
            if got == 0 { return (bytes, true) }
            bytes.append(contentsOf: chunk[0..<got])
        }
        return (bytes, false)
    }
}
