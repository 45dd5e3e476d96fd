// Fingerprint rule fp1 on constructed stacks: what must group together (other addresses, other
// recursion depth, other library versions, crash machinery on top) and what must not (another
// faulting function, another signal).

import Testing
import TracerKit

/// A symbolized frame: `module!function`, at `pc` (the module's offset follows the pc).
private func frame(_ index: Int, _ module: String, _ function: String?, pc: UInt64, buildID: String = "aabbccdd",
                   signalFrame: Bool = false) -> Frame {
    var frame = Frame(index: index, pc: pc, stackPointer: 0x7ffd_0000_0000 + UInt64(index) * 64, recovery: .callFrameInfo,
                      isSignalFrame: signalFrame)
    frame.symbol.module = module
    frame.symbol.function = function
    frame.symbol.functionOffset = 0x1c
    frame.symbol.moduleOffset = pc & 0xfffff
    frame.symbol.buildID = buildID
    frame.symbol.line = 40 + index
    return frame
}

/// The fixture's segv stack, loaded at `base`, with `recursion` extra levels of a recursive helper.
private func segvStack(base: UInt64, recursion: Int = 0, libc: String = "/usr/lib/x86_64-linux-gnu/libc.so.6") -> [Frame] {
    var names = ["fixture_crash_segv"] + Array(repeating: "fixture_recurse", count: recursion + 1)
        + ["fixture_crash_middle", "fixture_crash_outer", "main"]
    names = names.filter { !$0.isEmpty }
    var frames = names.enumerated().map { frame($0, "/opt/ats/bin/traffic_server", $1, pc: base + 0x1000 + UInt64($0) * 0x40) }
    frames.append(frame(frames.count, libc, "__libc_start_call_main", pc: base + 0x7000_0000))
    frames.append(frame(frames.count, libc, "__libc_start_main_impl", pc: base + 0x7000_0100))
    frames.append(frame(frames.count, "/opt/ats/bin/traffic_server", "_start", pc: base + 0x900))
    return frames
}

@Suite(.timeLimit(.minutes(1))) struct FingerprintTests {
    @Test func aslrDifferentAddressesGiveTheSameFingerprint() {
        let first = Fingerprint.compute(signal: 11, faultKind: "null-dereference", frames: segvStack(base: 0x5555_5555_0000))
        let second = Fingerprint.compute(signal: 11, faultKind: "null-dereference", frames: segvStack(base: 0x5600_1234_0000))
        #expect(first == second)
        #expect(first.value.hasPrefix("fp1:") && first.value.count == 4 + 16)
        #expect(first.basis == ["signal=11", "kind=null-dereference", "traffic_server!fixture_crash_segv",
                                "traffic_server!fixture_recurse", "traffic_server!fixture_crash_middle",
                                "traffic_server!fixture_crash_outer", "traffic_server!main"])
        #expect(first.note == nil)
    }

    @Test func aDifferentFaultingFunctionGivesAnotherFingerprint() {
        var frames = segvStack(base: 0x5555_5555_0000)
        let before = Fingerprint.compute(signal: 11, faultKind: "null-dereference", frames: frames)
        frames[0].symbol.function = "fixture_crash_bus"
        #expect(Fingerprint.compute(signal: 11, faultKind: "null-dereference", frames: frames) != before)
        #expect(Fingerprint.compute(signal: 7, faultKind: "null-dereference", frames: segvStack(base: 0x5555_5555_0000)) != before)
        #expect(Fingerprint.compute(signal: 11, faultKind: "unmapped-address", frames: segvStack(base: 0x5555_5555_0000)) != before)
    }

    @Test func recursionDepthGivesTheSameFingerprint() {
        let shallow = Fingerprint.compute(signal: 11, faultKind: "stack-overflow", frames: segvStack(base: 0x1000, recursion: 0))
        let deep = Fingerprint.compute(signal: 11, faultKind: "stack-overflow", frames: segvStack(base: 0x1000, recursion: 5000))
        #expect(shallow == deep)
    }

    @Test func crashMachineryThreadBottomsAndHandlerFramesAreDropped() {
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        let handler = [
            frame(0, "/opt/ats/bin/traffic_server", "signal_crash_handler", pc: 0x10),
            frame(1, libc, "__restore_rt", pc: 0x20, signalFrame: true),
        ]
        let abort = [
            frame(0, libc, "__pthread_kill_implementation", pc: 0x30), frame(1, libc, "raise", pc: 0x40),
            frame(2, libc, "abort", pc: 0x50), frame(3, libc, "__assert_fail_base.cold", pc: 0x58),
            frame(4, libc, "__assert_fail", pc: 0x60),
            frame(5, "/opt/ats/bin/traffic_server", "HttpSM::state_read(int) [clone .isra.0]", pc: 0x70),
            frame(6, libc, "start_thread", pc: 0x80), frame(7, libc, "clone3", pc: 0x90),
        ]
        let fingerprint = Fingerprint.compute(signal: 6, faultKind: "assertion-failure", frames: handler + abort)
        #expect(fingerprint.basis == ["signal=6", "kind=assertion-failure", "traffic_server!HttpSM::state_read(int)"])
    }

    @Test func libraryVersionsAndBuildIDsDoNotMatter() {
        let old = segvStack(base: 0x1000, libc: "/lib/libc.so.6").map { var f = $0; f.symbol.buildID = "1111"; return f }
        let new = segvStack(base: 0x2000, libc: "/usr/lib/libc.so.7").map { var f = $0; f.symbol.buildID = "2222"; return f }
        #expect(Fingerprint.compute(signal: 11, faultKind: nil, frames: old) == Fingerprint.compute(signal: 11, faultKind: nil, frames: new))
        #expect(Fingerprint.normalize(module: "/usr/lib/x86_64-linux-gnu/libssl.so.3") == "libssl.so")
        #expect(Fingerprint.normalize(function: "__libc_start_main@@GLIBC_2.34") == "__libc_start_main")
        #expect(Fingerprint.normalize(function: "compute.constprop.0") == "compute")
    }

    @Test func unnamedFramesFallBackToModuleOffsetsAndSaySo() {
        var frames = segvStack(base: 0x5555_5555_0000)
        frames[0].symbol.function = nil
        let fingerprint = Fingerprint.compute(signal: 11, faultKind: "null-dereference", frames: frames)
        #expect(fingerprint.basis[2] == "traffic_server@aabbccdd+0x51000")
        #expect(fingerprint.note?.contains("stable only for this build") == true)
        // Still independent of where the module was loaded: the offset is the module's own.
        var moved = segvStack(base: 0x7777_7775_0000)
        moved[0].symbol.function = nil
        moved[0].symbol.moduleOffset = 0x51000
        #expect(Fingerprint.compute(signal: 11, faultKind: "null-dereference", frames: moved) == fingerprint)
    }
}
