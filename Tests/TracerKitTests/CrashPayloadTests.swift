// Payload decoding: each ATS layout is recognised by its length and field consistency; damaged
// payloads degrade to what can be trusted, with a problem sentence; empty means shutdown.

import Testing
@testable import TracerKit

/// Builds payload bytes the way a server's signal handler lays them out.
struct PayloadBuilder {
    static func siginfo(signal: Int32, code: Int32, address: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 128)
        put(&bytes, 0, UInt32(bitPattern: signal))
        put(&bytes, 8, UInt32(bitPattern: code))
        put64(&bytes, 16, address)  // si_addr (the sigfault member of the union)
        return bytes
    }

    static func ucontext(rip: UInt64, rsp: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 968)
        put64(&bytes, 40 + 16 * 8, rip)  // uc_mcontext.gregs[REG_RIP]
        put64(&bytes, 40 + 15 * 8, rsp)  // uc_mcontext.gregs[REG_RSP]
        return bytes
    }

    static func v9(signal: Int32 = 11, address: UInt64 = 0x10, rip: UInt64 = 0x401000, rsp: UInt64 = 0x7ffc0000) -> [UInt8] {
        siginfo(signal: signal, code: 1, address: address) + ucontext(rip: rip, rsp: rsp)
    }

    static func v102(tid: Int32 = 4242, text: String = "frame0\nframe1\n") -> [UInt8] {
        var bytes = le32(UInt32(tid)) + v9()
        bytes += le32(UInt32(text.utf8.count)) + Array(text.utf8)
        return bytes
    }

    static func master(tid: Int32 = 4242, text: String = "bt") -> [UInt8] { le32(11) + v102(tid: tid, text: text) }

    static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    static func put(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt32) {
        bytes.replaceSubrange(offset..<offset + 4, with: le32(value))
    }
    static func put64(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64) {
        bytes.replaceSubrange(offset..<offset + 8, with: withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }
}

@Suite(.timeLimit(.minutes(1))) struct CrashPayloadTests {
    @Test func emptyPayloadMeansShutdown() {
        #expect(CrashPayload.decode([]) == nil)
    }

    @Test func ats9Layout() throws {
        let payload = try #require(CrashPayload.decode(PayloadBuilder.v9()))
        #expect(payload.version == .ats9)
        #expect(payload.byteCount == 1096)
        #expect(payload.crashingThread == nil)
        #expect(payload.signal?.number == 11)
        #expect(payload.signal?.code == 1)
        #expect(payload.signal?.address == 0x10)
        #expect(payload.registers?.rip == 0x401000)
        #expect(payload.registers?.rsp == 0x7ffc0000)
        #expect(payload.problems.isEmpty)
    }

    @Test func ats102Layout() throws {
        let payload = try #require(CrashPayload.decode(PayloadBuilder.v102()))
        #expect(payload.version == .ats10_2)
        #expect(payload.crashingThread == 4242)
        #expect(payload.signal?.name == "SIGSEGV")
        #expect(payload.registers?.rip == 0x401000)
        #expect(payload.serverBacktrace == "frame0\nframe1\n")
    }

    @Test func atsMasterLayout() throws {
        let payload = try #require(CrashPayload.decode(PayloadBuilder.master()))
        #expect(payload.version == .atsMaster)
        #expect(payload.crashingThread == 4242)
        #expect(payload.signal?.number == 11)
        #expect(payload.serverBacktrace == "bt")
    }

    @Test func truncatedPayloadKeepsTheSignal() throws {
        let payload = try #require(CrashPayload.decode(Array(PayloadBuilder.v9().prefix(600))))
        #expect(payload.version == .unrecognized)
        #expect(payload.signal?.number == 11)
        #expect(payload.registers == nil)
        #expect(payload.problems.count == 1)
        #expect(payload.problems[0].contains("600 bytes"))
        #expect(payload.problems[0].contains("registers at the fault are missing"))
    }

    @Test func garbagePayloadIsStillACrashWithAProblem() throws {
        let short = try #require(CrashPayload.decode([UInt8](repeating: 0xA5, count: 200)))
        #expect(short.version == .unrecognized)
        #expect(short.signal == nil)
        #expect(short.problems.first?.contains("truncated: 200 bytes, fewer than the 1096") == true)
        let long = try #require(CrashPayload.decode([UInt8](repeating: 0xA5, count: 2000)))
        #expect(long.signal == nil && long.registers == nil)
        #expect(long.problems.first?.contains("2000 bytes and no plausible siginfo_t") == true)
    }

    @Test func signalTexts() {
        let segv = SignalInfo(number: 11, code: 1, address: 0)
        #expect(segv.description == "Segmentation fault")
        #expect(segv.codeDescription == "SEGV_MAPERR (address not mapped to object)")
        #expect(segv.hasFaultAddress)
        let killed = SignalInfo(number: 6, code: -6, senderPID: 77)
        #expect(killed.name == "SIGABRT")
        #expect(killed.wasSentByProcess)
        #expect(killed.codeDescription.hasPrefix("SI_TKILL"))
        #expect(SignalInfo(number: 8, code: 1).codeDescription.hasPrefix("FPE_INTDIV"))
    }
}
