// CoreNotes: what the notes of an ELF core say, read with libelf (elf_getdata_rawchunk,
// gelf_getnote): NT_PRPSINFO for the process, NT_PRSTATUS for each thread's id and registers,
// NT_PRFPREG for its SSE registers, NT_SIGINFO for the fatal signal. The same reading serves a
// core file on disk and the head of a core piped in by the kernel (CoreStream), whose notes come
// before any memory segment.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import CInvokerShim
import TracerKit

/// One thread as a core's NT_PRSTATUS (and NT_PRFPREG) note describes it.
public struct CoreNoteThread: Sendable {
    public var tid: Int32
    /// The signal the thread was handling when the core was written (pr_cursig).
    public var signal: Int32
    /// Its registers where the kernel stopped it (for the dumping thread: at the faulting
    /// instruction), with the low halves of xmm0–xmm15 when an NT_PRFPREG note follows.
    public var registers: Registers
}

/// The process, its threads and its signal, as a core's notes give them.
public struct CoreNotes: Sendable {
    public var pid: Int32 = 0
    /// The process name (NT_PRPSINFO pr_fname, at most 15 characters, as /proc/PID/comm).
    public var processName: String?
    /// The start of the command line (NT_PRPSINFO pr_psargs, at most 80 characters).
    public var arguments: String?
    /// The fatal signal (NT_SIGINFO; else only the number, from the first NT_PRSTATUS).
    public var signal: SignalInfo?
    /// Every thread, the dumping (crashing) one first, as the kernel writes them.
    public var threads: [CoreNoteThread] = []
    /// Sentences about what the notes lack.
    public var problems: [String] = []

    /// The thread that dumped the core (the first NT_PRSTATUS note, the one the signal hit).
    public var crashingThread: Int32? { threads.first?.tid }

    /// NT_SIGINFO ("SIGI") and NT_PRFPREG, which Debian's <elf.h> defines but Swift does not
    /// import as constants.
    static let siginfoNoteType: Int32 = 0x5349_4749
    static let fpRegistersNoteType: Int32 = 2

    /// Reads the notes of the core `elf`.
    public init(elf: OpaquePointer) {
        Self.readNotes(elf) { type, descriptor, size in
            switch Int32(type) {
            case NT_PRPSINFO:
                var info = ivk_core_prpsinfo()
                guard ivk_core_prpsinfo(descriptor, size, &info) == 0 else { return }
                pid = info.pid
                processName = withUnsafeBytes(of: info.name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                let text = withUnsafeBytes(of: info.arguments) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                arguments = String(text.reversed().drop { $0 == " " }.reversed())
            case NT_PRSTATUS:
                var status = ivk_core_prstatus()
                if ivk_core_prstatus(descriptor, size, &status) == 0 {
                    threads.append(CoreNoteThread(tid: status.tid, signal: status.signal, registers: Registers(status.regs)))
                }
            case Self.fpRegistersNoteType:
                // The kernel writes a thread's NT_PRFPREG (its fxsave area) right after its NT_PRSTATUS.
                guard !threads.isEmpty else { return }
                threads[threads.count - 1].registers.xmmLow = Self.xmmLow(descriptor, size: size)
            case Self.siginfoNoteType:
                guard size >= Int(IVK_SIGINFO_SIZE) else { return }
                var raw = ivk_siginfo()
                ivk_decode_siginfo(descriptor, &raw)
                signal = SignalInfo(raw)
            default:
                break
            }
        }
        if signal == nil, let first = threads.first, first.signal > 0 {
            signal = SignalInfo(number: first.signal)
            problems.append("The core has no NT_SIGINFO note: only the signal number is known, not its code or address.")
        }
        if threads.isEmpty { problems.append("The core has no NT_PRSTATUS note: no thread's registers are known.") }
    }

    /// The low 8 bytes of xmm0–xmm15 from an fxsave area (user_fpregs_struct), nil if it is short.
    static func xmmLow(_ descriptor: UnsafeRawPointer, size: Int) -> [UInt64]? {
        let offset = Int(IVK_FXSAVE_XMM_OFFSET), width = Int(IVK_XMM_SIZE)
        guard size >= offset + Int(IVK_XMM_COUNT) * width else { return nil }
        return (0..<Int(IVK_XMM_COUNT)).map { index in
            UInt64(littleEndian: descriptor.loadUnaligned(fromByteOffset: offset + index * width, as: UInt64.self))
        }
    }

    /// Calls `body` with the type, descriptor and descriptor size of each "CORE" or "LINUX" note.
    static func readNotes(_ elf: OpaquePointer, _ body: (UInt32, UnsafeRawPointer, Int) -> Void) {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { return }
        for index in 0..<count {
            var header = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(index), &header) != nil, header.p_type == UInt32(PT_NOTE) else { continue }
            guard let data = elf_getdata_rawchunk(elf, Int64(header.p_offset), Int(header.p_filesz), ELF_T_NHDR),
                  let base = data.pointee.d_buf else { continue }
            var offset = 0
            while true {
                var note = GElf_Nhdr()
                var nameOffset = 0, descriptorOffset = 0
                let next = gelf_getnote(data, offset, &note, &nameOffset, &descriptorOffset)
                guard next > 0 else { break }
                let name = String(cString: base.advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
                if name == "CORE" || name == "LINUX" {
                    body(note.n_type, UnsafeRawPointer(base.advanced(by: descriptorOffset)), Int(note.n_descsz))
                }
                offset = next
            }
        }
    }
}
