// RemoteUnwinder: walks a stopped thread's stack with libunwind's remote API, reading the target
// only through the snapshot's MemoryReader (one cached page per read, no PTRACE_PEEKDATA).
//
// libunwind's ptrace helpers (_UPT_*) are used for one thing only: finding the unwind tables of
// the module an address falls in (they map the module's ELF file from disk). One _UPT handle per
// module keeps each module's tables cached. Every accessor call carries the address space, not
// our context (_UPT_find_proc_info passes its own argument down to access_mem), so accessors find
// their unwinder in the walk the C shim keeps for this thread (ivk_unw_begin_walk): no lock, no
// lookup. While the walk runs, libunwind's cache lock costs no system calls (see unwind.c).

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import CUnwindShim
import CUnwind
import TracerKit

/// A frame as the unwinder found it, before symbolization.
public struct RawFrame: Sendable, Equatable {
    public var pc: UInt64
    public var stackPointer: UInt64
    public var recovery: FrameRecovery
    public var isSignalFrame: Bool
    /// The frame's registers that are known (DWARF numbering) and its canonical frame address.
    public var registers: FrameRegisters = FrameRegisters()
}

/// The frames of one thread and why the walk ended.
public struct UnwoundStack: Sendable, Equatable {
    public var frames: [RawFrame]
    /// nil when the walk reached the outermost frame; otherwise a sentence.
    public var stopReason: String?
}

/// Unwinds threads of one snapshot. Use from one thread at a time.
public final class RemoteUnwinder {
    public static let defaultMaxFrames = 256

    private let pid: Int32
    private let memory: any MemoryReader
    /// `memory` when it is the snapshot's page cache (always, but for tests' fakes): read
    /// without a dynamic dispatch per word.
    private let cache: CachingMemoryReader?
    /// Whether frames keep their registers (only the variables tracer reads them).
    private let recordsRegisters: Bool
    private let mappings: [MemoryMapping]
    private var space: unw_addr_space_t?
    private var uptHandles: [String: UnsafeMutableRawPointer] = [:]
    /// The registers of the thread being unwound (libunwind asks for them through access_reg).
    private var current = Registers()
    /// The last read of target memory that failed during the current step: libunwind reduces it
    /// to -UNW_EINVAL, we keep the address and the reason for the report.
    private var lastReadFailure: MemoryReadError?
    /// Whether call-frame information covers a pc (unw_get_proc_info is a table search; stacks
    /// of many threads share their pcs).
    private var hasCallFrameInfo: [UInt64: Bool] = [:]

    /// Module path → why its unwind tables were kept from libunwind (nil: checked, sound).
    private var damagedTables: [String: String?] = [:]
    /// Sentences for the report: modules whose unwind tables were kept from libunwind.
    public private(set) var moduleProblems: [String] = []
    /// "inode path" of a mapping → whether the file at that path now is another file.
    private var replacedOnDisk: [String: Bool] = [:]

    /// `recordsRegisters`: keep each frame's registers (`RawFrame.registers`) for readers of
    /// variables; without, a frame costs no register reads beyond its pc and stack pointer.
    /// `memory` replaces the snapshot's (a reader of the same target for another thread).
    public init(snapshot: any ProcessSnapshot, recordsRegisters: Bool = true, memory: (any MemoryReader)? = nil) {
        pid = snapshot.addressSpacePid
        self.memory = memory ?? snapshot.memory
        cache = self.memory as? CachingMemoryReader
        self.recordsRegisters = recordsRegisters
        mappings = snapshot.mappings
        var accessors = unw_accessors_t()
        accessors.find_proc_info = { space, ip, info, needUnwindInfo, _ in
            guard let unwinder = RemoteUnwinder.walking(space), let upt = unwinder.uptHandle(for: ip) else {
                return -Int32(UNW_ENOINFO.rawValue)
            }
            return _UPT_find_proc_info(space, ip, info, needUnwindInfo, upt)
        }
        accessors.put_unwind_info = { space, info, arg in _UPT_put_unwind_info(space, info, arg) }
        accessors.get_dyn_info_list_addr = { _, _, _ in -Int32(UNW_ENOINFO.rawValue) }
        accessors.access_mem = { space, address, value, write, _ in
            guard write == 0, let value, let unwinder = RemoteUnwinder.walking(space) else {
                return -Int32(UNW_EINVAL.rawValue)
            }
            do throws(MemoryReadError) {
                if let cache = unwinder.cache {
                    value.pointee = try cache.read(UInt64.self, at: address)
                } else {
                    value.pointee = try unwinder.memory.read(UInt64.self, at: address)
                }
                return 0
            } catch {
                unwinder.lastReadFailure = error
                return -Int32(UNW_EINVAL.rawValue)
            }
        }
        accessors.access_reg = { space, number, value, write, _ in
            guard write == 0, let value, let unwinder = RemoteUnwinder.walking(space),
                  let register = unwinder.current.value(libunwindNumber: number) else {
                return -Int32(UNW_EBADREG.rawValue)
            }
            value.pointee = register
            return 0
        }
        accessors.access_fpreg = { _, _, _, _, _ in -Int32(UNW_EBADREG.rawValue) }
        accessors.resume = { _, _, _ in -Int32(UNW_EINVAL.rawValue) }
        accessors.get_proc_name = nil
        space = ivk_unw_create_addr_space(&accessors)
        if let space {
            // The global cache: Debian's libunwind has no per-thread one (it takes
            // UNW_CACHE_PER_THREAD for this), and without a cache every step searches the tables.
            _ = ivk_unw_set_caching_policy(space, UNW_CACHE_GLOBAL)
        }
    }

    deinit {
        if let space { ivk_unw_destroy_addr_space(space) }
        for handle in uptHandles.values { _UPT_destroy(handle) }
    }

    /// The unwinder walking `space` on this thread (accessors are called only inside a walk).
    private static func walking(_ space: unw_addr_space_t?) -> RemoteUnwinder? {
        guard let pointer = ivk_unw_context(space) else { return nil }
        return Unmanaged<RemoteUnwinder>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// The _UPT handle for the module mapped at `ip` (created on first use).
    private func uptHandle(for ip: UInt64) -> UnsafeMutableRawPointer? {
        guard let mapping = mappings.mapping(containing: ip), mapping.path.hasPrefix("/") else { return nil }
        if let handle = uptHandles[mapping.path] { return handle }
        if damagedTables[mapping.path] == nil {
            let problem = UnwindTableCheck.problem(path: mapping.path)
            damagedTables[mapping.path] = .some(problem)
            if let problem {
                moduleProblems.append("\(mapping.path): \(problem); it was not given to libunwind (which abort()s on such tables), so frames in it were followed by frame pointers.")
            }
        }
        if case .some(.some) = damagedTables[mapping.path] { return nil }
        guard let handle = _UPT_create(pid) else { return nil }
        uptHandles[mapping.path] = handle
        return handle
    }

    /// A frame's canonical frame address is its caller's stack pointer (the value rsp had before
    /// the call): filled in once the caller is known.
    private static func linkFrameAddresses(_ frames: inout [RawFrame]) {
        for index in frames.indices.dropLast() where !frames[index + 1].isSignalFrame {
            frames[index].registers.cfa = frames[index + 1].stackPointer
        }
    }

    /// Frame 0 knows every general register; an outer frame only those the callee preserved
    /// (rbx, rbp, r12–r15), its stack pointer and pc: the others hold the callee's values.
    private func frameRegisters(_ cursor: inout unw_cursor_t, all: Bool) -> FrameRegisters {
        var result = FrameRegisters()
        for number in all ? Self.allGeneralRegisters : Self.preservedRegisters {
            var value: unw_word_t = 0
            if ivk_unw_get_reg(&cursor, number, &value) == 0 { result.values[UInt16(number)] = value }
        }
        // xmm0–xmm15 (DWARF 17–32) are known in frame 0 only: no callee preserves them.
        if all, let xmm = current.xmmLow {
            for (index, value) in xmm.enumerated() { result.values[UInt16(17 + index)] = value }
        }
        return result
    }

    /// Why a walk that ended at a frame whose pc is `pc` ended early, judged from the memory map:
    /// code nothing describes (anonymous executable memory: a JIT), a pc outside executable
    /// memory (a garbage register), a library deleted or replaced on disk since it was loaded
    /// (its unwind tables are read from the file). Nil for a frame in an intact module: the walk
    /// reached the outermost frame.
    func whyCodeEndsTheStack(at pc: UInt64) -> String? {
        guard let mapping = mappings.mapping(containing: pc) else {
            return "its last pc \(pc.hex) is in no mapping of the process (a garbage register, or a jump to nowhere)"
        }
        let place = mapping.path.isEmpty ? "anonymous memory" : mapping.path
        if !mapping.isExecutable {
            return "its last pc \(pc.hex) is in non-executable memory (\(place))"
        }
        if mapping.path.isEmpty || mapping.path.hasPrefix("[anon") || mapping.path.hasPrefix("/memfd:") {
            return "its last pc \(pc.hex) is in an anonymous executable mapping \(mapping.start.hex)-\(mapping.end.hex) (code generated at run time, such as a JIT's) that has no unwind information"
        }
        if case .some(.some(let problem)) = damagedTables[mapping.path] {
            return "its last pc \(pc.hex) is in \(mapping.path): \(problem)"
        }
        if mapping.path.hasSuffix(" (deleted)") {
            return "its last pc \(pc.hex) is in \(mapping.path.dropLast(10)), which was deleted or replaced on disk after it was loaded: its unwind tables could not be read"
        }
        if mapping.path.hasPrefix("/") && isReplacedOnDisk(mapping) {
            return "its last pc \(pc.hex) is in \(mapping.path), which was replaced on disk after it was loaded (another file is at that path now): its unwind tables could not be trusted"
        }
        return nil
    }

    private func isReplacedOnDisk(_ mapping: MemoryMapping) -> Bool {
        let key = "\(mapping.inode) \(mapping.path)"
        if let known = replacedOnDisk[key] { return known }
        var info = stat()
        let replaced = mapping.inode != 0 && stat(mapping.path, &info) == 0 && UInt64(info.st_ino) != mapping.inode
        replacedOnDisk[key] = replaced
        return replaced
    }

    private static func linked(_ frames: [RawFrame], stopReason: String?) -> UnwoundStack {
        var frames = frames
        linkFrameAddresses(&frames)
        return UnwoundStack(frames: frames, stopReason: stopReason)
    }

    /// DWARF numbers of the general registers and the return address (frame 0 knows them all).
    private static let allGeneralRegisters: [Int32] = Array(0...16)
    /// rbx, rbp, rsp, r12–r15 and the return address: what an outer frame knows.
    private static let preservedRegisters: [Int32] = [3, 6, 7, 12, 13, 14, 15, 16]

    /// A frame's place, to notice a stack that loops.
    private struct FramePlace: Hashable {
        var pc: UInt64
        var sp: UInt64
    }

    /// Unwinds from `registers`. `startRecovery` says where those registers came from.
    public func unwind(from registers: Registers, startRecovery: FrameRecovery,
                       maxFrames: Int = RemoteUnwinder.defaultMaxFrames, deadline: Deadline) -> UnwoundStack {
        guard let space else {
            return UnwoundStack(frames: [RawFrame(pc: registers.rip, stackPointer: registers.rsp,
                                                  recovery: startRecovery, isSignalFrame: false)],
                                stopReason: "libunwind could not create an address space")
        }
        current = registers
        ivk_unw_begin_walk(space, Unmanaged.passUnretained(self).toOpaque())
        defer { ivk_unw_end_walk() }
        var cursor = unw_cursor_t()
        let initResult = ivk_unw_init_remote(&cursor, space, nil)
        guard initResult == 0 else {
            return UnwoundStack(frames: [RawFrame(pc: registers.rip, stackPointer: registers.rsp,
                                                  recovery: startRecovery, isSignalFrame: false)],
                                stopReason: "libunwind could not start: \(String(cString: ivk_unw_strerror(initResult)))")
        }
        var frames: [RawFrame] = []
        var recovery = startRecovery
        // Places seen, to notice a loop; built only once a stack pointer fails to grow (until
        // then no place can repeat), so a sound stack costs no hashing.
        var seen: Set<FramePlace>? = nil
        while true {
            var ip: unw_word_t = 0, sp: unw_word_t = 0
            _ = ivk_unw_get_reg(&cursor, Int32(UNW_REG_IP.rawValue), &ip)
            _ = ivk_unw_get_reg(&cursor, Int32(UNW_REG_SP.rawValue), &sp)
            // libunwind flags the frame whose registers it restored from a signal context (the
            // interrupted frame, with an exact pc); the frame before it is the trampoline
            // (__restore_rt) the kernel returned through. We mark the trampoline.
            let restoredFromSignal = ivk_unw_is_signal_frame(&cursor) > 0 && !frames.isEmpty
            if restoredFromSignal {
                frames[frames.count - 1].isSignalFrame = true
                recovery = .signalContext
            }
            if seen == nil, let previous = frames.last, sp <= previous.stackPointer {
                seen = Set(frames.map { FramePlace(pc: $0.pc, sp: $0.stackPointer) })
            }
            if seen?.insert(FramePlace(pc: ip, sp: sp)).inserted == false {
                return Self.linked(frames, stopReason: "the stack loops back to frame at pc \(ip.hex), sp \(sp.hex)")
            }
            frames.append(RawFrame(pc: ip, stackPointer: sp, recovery: recovery, isSignalFrame: false,
                                   registers: recordsRegisters ? frameRegisters(&cursor, all: frames.isEmpty) : FrameRegisters()))
            if frames.count >= maxFrames {
                return Self.linked(frames, stopReason: "stopped after \(maxFrames) frames")
            }
            if deadline.hasExpired {
                return Self.linked(frames, stopReason: "the deadline passed")
            }
            // Whether CFI covers this frame decides how trustworthy the caller we step to is.
            let hasCFI: Bool
            if let known = hasCallFrameInfo[ip] {
                hasCFI = known
            } else {
                var info = unw_proc_info_t()
                hasCFI = ivk_unw_get_proc_info(&cursor, &info) == 0 && info.format != 0
                hasCallFrameInfo[ip] = hasCFI
            }
            lastReadFailure = nil
            let step = ivk_unw_step(&cursor)
            if step == 0 { return Self.linked(frames, stopReason: whyCodeEndsTheStack(at: ip)) }
            if step < 0 {
                if let failure = lastReadFailure {
                    return Self.linked(frames, stopReason: "the caller's frame cannot be read: \(failure)")
                }
                let why = whyCodeEndsTheStack(at: ip).map { "; \($0)" } ?? ""
                return Self.linked(frames, stopReason: "libunwind found no way to the caller: \(String(cString: ivk_unw_strerror(step)))\(why)")
            }
            recovery = hasCFI ? .callFrameInfo : .framePointer
            var nextIP: unw_word_t = 0
            _ = ivk_unw_get_reg(&cursor, Int32(UNW_REG_IP.rawValue), &nextIP)
            if nextIP == 0 { return Self.linked(frames, stopReason: whyCodeEndsTheStack(at: ip)) }
        }
    }
}
