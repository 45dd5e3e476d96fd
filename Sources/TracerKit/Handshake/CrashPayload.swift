// CrashPayload: decodes the bytes a crashing Traffic Server (or anything speaking its protocol)
// writes to the helper's stdin. The helper cannot know which ATS version talks to it, so it reads
// to EOF and recognises the layout by its length and by the consistency of its fields:
//
//   ATS 9.x, 10.0, 10.1   siginfo_t, ucontext_t                                     1096 bytes
//   ATS 10.2              pid_t tid, siginfo_t, ucontext_t, uint32 n, n bytes       1104 + n
//   ATS master (2026)     int signo, then the 10.2 payload                          1108 + n
//
// Anything else is decoded as far as it goes, with a problem recorded; an empty payload means
// "not a crash".

import CInvokerShim

/// The protocol version a payload was recognised as.
public enum PayloadVersion: String, Sendable, Equatable {
    /// siginfo_t + ucontext_t (ATS 9.x, 10.0, 10.1).
    case ats9 = "ats-9"
    /// tid + siginfo_t + ucontext_t + backtrace (ATS 10.2).
    case ats10_2 = "ats-10.2"
    /// signo + the 10.2 payload (ATS master).
    case atsMaster = "ats-master"
    /// Not a layout we know; fields were recovered as far as they were consistent.
    case unrecognized
}

/// A decoded crash payload.
public struct CrashPayload: Sendable, Equatable {
    public var version: PayloadVersion
    /// Total bytes received.
    public var byteCount: Int
    /// The crashing thread, when the payload names it (10.2 and later).
    public var crashingThread: Int32?
    public var signal: SignalInfo?
    /// The crashing thread's registers at the fault, from the ucontext.
    public var registers: Registers?
    /// The backtrace text the server produced itself (10.2 and later), if any.
    public var serverBacktrace: String?
    /// What did not decode, as sentences for the report.
    public var problems: [String]

    static let siginfoSize = Int(IVK_SIGINFO_SIZE)
    static let ucontextSize = Int(IVK_UCONTEXT_SIZE)
    /// The fixed part of a 10.2 payload: tid + siginfo + ucontext + length word.
    static let v102Fixed = 4 + siginfoSize + ucontextSize + 4

    /// Decodes `bytes`. Returns nil for an empty payload (a clean shutdown, not a crash).
    public static func decode(_ bytes: [UInt8]) -> CrashPayload? {
        if bytes.isEmpty { return nil }
        let n = bytes.count
        if n == siginfoSize + ucontextSize, let p = decodeV9(bytes, at: 0), p.signal?.isValidSignal == true {
            return p
        }
        if n >= 4 + v102Fixed, let p = decodeV102(bytes, at: 4, version: .atsMaster),
           p.signal?.isValidSignal == true, readInt32(bytes, at: 0) == p.signal?.number {
            return p
        }
        if n >= v102Fixed, let p = decodeV102(bytes, at: 0, version: .ats10_2), p.signal?.isValidSignal == true {
            return p
        }
        return decodeDamaged(bytes)
    }

    static func decodeV9(_ bytes: [UInt8], at offset: Int) -> CrashPayload? {
        guard let signal = siginfo(bytes, at: offset) else { return nil }
        return CrashPayload(version: .ats9, byteCount: bytes.count, crashingThread: nil, signal: signal,
                            registers: ucontext(bytes, at: offset + siginfoSize), serverBacktrace: nil, problems: [])
    }

    /// A 10.2 payload starting at `offset`; it must account for every byte to be accepted.
    static func decodeV102(_ bytes: [UInt8], at offset: Int, version: PayloadVersion) -> CrashPayload? {
        guard let tid = readInt32(bytes, at: offset), tid > 0,
              let signal = siginfo(bytes, at: offset + 4),
              let length = readUInt32(bytes, at: offset + 4 + siginfoSize + ucontextSize) else { return nil }
        let textStart = offset + v102Fixed
        guard bytes.count - textStart == Int(length) else { return nil }
        let text = String(decoding: bytes[textStart...].prefix(while: { $0 != 0 }), as: UTF8.self)
        return CrashPayload(version: version, byteCount: bytes.count, crashingThread: tid, signal: signal,
                            registers: ucontext(bytes, at: offset + 4 + siginfoSize),
                            serverBacktrace: text.isEmpty ? nil : text, problems: [])
    }

    /// Best effort for a payload of no known length: truncated, extended or garbage.
    static func decodeDamaged(_ bytes: [UInt8]) -> CrashPayload {
        var payload = CrashPayload(version: .unrecognized, byteCount: bytes.count, crashingThread: nil,
                                   signal: nil, registers: nil, serverBacktrace: nil, problems: [])
        // Try the layouts from the newest; accept a siginfo only if its signal number is plausible.
        let candidates: [(siginfo: Int, tid: Int?, label: String)] = [
            (8, 4, "ATS master"), (4, 0, "ATS 10.2"), (0, nil, "ATS 9.x"),
        ]
        for candidate in candidates {
            guard let signal = siginfo(bytes, at: candidate.siginfo), signal.isValidSignal,
                  candidate.siginfo == 8 ? readInt32(bytes, at: 0) == signal.number : true else { continue }
            payload.signal = signal
            if let tidOffset = candidate.tid, let tid = readInt32(bytes, at: tidOffset), tid > 0 {
                payload.crashingThread = tid
            }
            payload.registers = ucontext(bytes, at: candidate.siginfo + siginfoSize)
            let missing = payload.registers == nil ? "; the registers at the fault are missing" : ""
            payload.problems.append(
                "The crash payload has \(bytes.count) bytes, which matches no known ATS layout; decoded it as \(candidate.label)\(missing).")
            return payload
        }
        let smallest = siginfoSize + ucontextSize
        payload.problems.append(bytes.count < smallest
            ? "The crash payload is truncated: \(bytes.count) bytes, fewer than the \(smallest) of the smallest ATS layout; the signal and the registers at the fault are unknown."
            : "The crash payload has \(bytes.count) bytes and no plausible siginfo_t in any known ATS layout; the signal and the registers at the fault are unknown.")
        return payload
    }

    static func siginfo(_ bytes: [UInt8], at offset: Int) -> SignalInfo? {
        guard offset >= 0, bytes.count >= offset + siginfoSize else { return nil }
        var raw = ivk_siginfo()
        bytes.withUnsafeBytes { ivk_decode_siginfo($0.baseAddress! + offset, &raw) }
        return SignalInfo(raw)
    }

    static func ucontext(_ bytes: [UInt8], at offset: Int) -> Registers? {
        guard offset >= 0, bytes.count >= offset + ucontextSize else { return nil }
        var gregs = [UInt64](repeating: 0, count: Int(IVK_NGREG))
        let fpregs = bytes.withUnsafeBytes { raw in
            gregs.withUnsafeMutableBufferPointer { ivk_decode_ucontext(raw.baseAddress! + offset, $0.baseAddress!) }
        }
        var registers = Registers(gregs: gregs)
        registers.floatingPointStateAddress = fpregs == 0 ? nil : fpregs
        return registers
    }

    static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32? {
        guard offset >= 0, bytes.count >= offset + 4 else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    }

    static func readInt32(_ bytes: [UInt8], at offset: Int) -> Int32? {
        readUInt32(bytes, at: offset).map { Int32(bitPattern: $0) }
    }
}
