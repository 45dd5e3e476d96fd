// A seeded random campaign over everything a crash payload reaches before the target is
// attached, and over the arithmetic the snapshot does on payload values: the payload comes from
// the less privileged server, so no byte of it may trap invoker. Mutations of valid payloads of
// every ATS layout (boundary words at random offsets, flipped bytes, cuts and extensions) and
// plain garbage; each decoded payload goes through FaultContext, the fault classifier, the
// register and signal texts, the stack range and the FP state read. Bounded: a few seconds.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
@testable import TracerKit

@Suite(.timeLimit(.minutes(1)))
struct PayloadCampaignTests {
    static let boundaryWords: [UInt64] = [
        0, 1, 0x7f, 0x80, 0xff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000,
        0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ff00, 0xffff_ffff_ffff_fff0, .max,
        0xffff_ffff_ff60_0000, 0x7ffc_0000_0000, 11, 64, 65,
    ]

    /// A memory map with mappings at the very top of the address space (vsyscall), at zero and
    /// in between, as a hostile register may point anywhere.
    static let mappings = MemoryMapping.parse("""
    0000000000000000-0000000000001000 r-xp 00000000 00:00 0
    0000000000400000-0000000000401000 r-xp 00000000 fd:01 12 /usr/bin/server
    00007ffc00000000-00007ffc00100000 rw-p 00000000 00:00 0 [stack]
    ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
    """)

    static func mutate(_ bytes: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            switch Int.random(in: 0..<5, using: &random) {
            case 0 where bytes.count >= 8:
                let at = Int.random(in: 0...(bytes.count - 8), using: &random)
                let word = boundaryWords.randomElement(using: &random)!
                withUnsafeBytes(of: word.littleEndian) { bytes.replaceSubrange(at..<at + 8, with: $0) }
            case 1 where bytes.count >= 4:
                let at = Int.random(in: 0...(bytes.count - 4), using: &random)
                let word = UInt32(truncatingIfNeeded: boundaryWords.randomElement(using: &random)!)
                withUnsafeBytes(of: word.littleEndian) { bytes.replaceSubrange(at..<at + 4, with: $0) }
            case 2 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            case 3:
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            default:
                bytes += (0..<Int.random(in: 1...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
        }
        return bytes
    }

    /// Everything downstream of the decoder that runs before or without a live target.
    static func exercise(_ bytes: [UInt8], memory: InMemoryReader) {
        guard let payload = CrashPayload.decode(bytes) else {
            #expect(bytes.isEmpty)
            return
        }
        #expect(payload.byteCount == bytes.count)
        if payload.version == .unrecognized { #expect(!payload.problems.isEmpty) }
        let fault = FaultContext(pid: 1, payload: payload)
        if let signal = fault.signal {
            _ = (signal.name, signal.description, signal.codeDescription, signal.hasFaultAddress)
            _ = FaultClassifier.classify(signal: signal, registers: fault.registers, mappings: mappings,
                                         abortMessage: signal.number == SIGABRT ? "a: b: Assertion `x' failed." : nil)
        }
        if let registers = fault.registers {
            _ = registers.named
            for sp in [registers.rsp, registers.rbp, registers.rip] {
                if let range = LiveProcessSnapshot.stackRange(sp: sp, mappings: mappings) {
                    #expect(mappings.mapping(containing: range.lowerBound) != nil)
                    #expect(mappings.mapping(containing: range.upperBound) != nil)
                }
            }
            if let address = registers.floatingPointStateAddress {
                _ = LiveProcessSnapshot.faultXMM(at: address, memory: memory)
            }
        }
    }

    @Test func mutatedAndGarbagePayloadsNeverTrap() {
        var random = SeededGenerator(seed: 0x13)
        let memory = InMemoryReader()
        memory.map([UInt8](repeating: 0xAB, count: 4096), at: 0xffff_ffff_ffff_f000)
        memory.map([UInt8](repeating: 0xCD, count: 4096), at: 0x7ffc_0000_0000)
        let seeds = [PayloadBuilder.v9(), PayloadBuilder.v102(), PayloadBuilder.master(), []]
        let started = Deadline.now()
        var decoded = 0
        for iteration in 0..<10_000 {
            let base = seeds[iteration % seeds.count]
            let bytes = base.isEmpty
                ? (0..<Int.random(in: 0...2400, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                : Self.mutate(base, using: &random)
            if CrashPayload.decode(bytes)?.signal != nil { decoded += 1 }
            Self.exercise(bytes, memory: memory)
        }
        // The campaign must reach the decoded paths, not only the rejections.
        #expect(decoded > 2_500)
        #expect(Deadline.now().seconds(since: started) < 30)
    }

    /// The two sums that trapped: fpregs + the xmm offset near 2^64, and sp + the prefetch size
    /// in the vsyscall page.
    @Test func snapshotArithmeticOnHostileValues() {
        let memory = InMemoryReader()
        #expect(LiveProcessSnapshot.faultXMM(at: 0xffff_ffff_ffff_fff0, memory: memory) == nil)
        #expect(LiveProcessSnapshot.faultXMM(at: .max, memory: memory) == nil)
        let range = LiveProcessSnapshot.stackRange(sp: 0xffff_ffff_ff60_0800, mappings: Self.mappings)
        #expect(range == 0xffff_ffff_ff60_0780...0xffff_ffff_ff60_0fff)
        #expect(LiveProcessSnapshot.stackRange(sp: 0x10, mappings: Self.mappings) == nil)
    }
}
