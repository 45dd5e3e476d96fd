// LiveProcessSnapshot: the ProcessSnapshot of a process held by a PtraceSession. It is captured
// once, right after the attach: threads with registers (names after the release), memory maps,
// loaded modules on first use; memory stays readable through `memory` (a page cache whose stacks
// were prefetched with one process_vm_readv).

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim

/// The snapshot of a live process, taken while a `PtraceSession` holds its threads.
public final class LiveProcessSnapshot: ProcessSnapshot {
    public let pid: Int32
    /// The thread whose /proc entry (maps, memory) stands for the process: `pid` itself, unless
    /// its main thread has exited (a zombie leader has no memory map) while other threads run.
    public let addressSpacePid: Int32
    public let executable: String
    public let commandLine: [String]
    /// Threads, the crashing one first. Their names are filled in by `readThreadNames()`.
    public private(set) var threads: [ThreadSnapshot]
    public let mappings: [MemoryMapping]
    /// The loaded modules (libdwfl), reported on first use: opening ELF files is not done while
    /// a live target is frozen.
    public private(set) lazy var modules: ModuleIndex? = {
        let index = ModuleIndex(pid: addressSpacePid)
        if let problem = index?.problem { moduleProblems.append(problem) }
        return index
    }()
    public let fault: FaultContext?
    /// Memory of the target (cached; valid while the target is stopped).
    public let memory: any MemoryReader
    /// Sentences about what could not be captured.
    public var problems: [String] { captureProblems + moduleProblems }
    private let captureProblems: [String]
    private var moduleProblems: [String] = []

    /// Bytes of the threads' stacks copied at capture (one process_vm_readv per IOV_MAX ranges).
    public let copiedStackBytes: Int
    /// What `stack_copy_limit` cut from that copy, as a phrase for the report; nil if nothing.
    public let stackCopyCut: String?
    /// The default cap of the up-front stack copy.
    public static let defaultStackCopyLimit = 64 << 20

    init(pid: Int32, executable: String, commandLine: [String], threads: [ThreadSnapshot],
         mappings: [MemoryMapping], fault: FaultContext?, memory: any MemoryReader, problems: [String], copiedStackBytes: Int,
         stackCopyCut: String? = nil, addressSpacePid: Int32? = nil) {
        self.pid = pid; self.addressSpacePid = addressSpacePid ?? pid; self.executable = executable; self.commandLine = commandLine; self.threads = threads
        self.mappings = mappings; self.fault = fault; self.memory = memory; self.captureProblems = problems
        self.copiedStackBytes = copiedStackBytes; self.stackCopyCut = stackCopyCut
    }

    /// At most this much of each stack (from the stack pointer up to the top of its mapping, the
    /// part in use) is copied in the one batch at capture; deeper parts load page by page.
    static let stackPrefetchBytes: UInt64 = 1 << 20

    /// Every thread `session` holds, with its registers (and xmm registers with
    /// `vectorRegisters`), unnamed; a thread whose registers cannot be read is kept without them,
    /// its error in `problems`.
    static func readThreads(of session: PtraceSession, vectorRegisters: Bool, problems: inout [String]) -> [ThreadSnapshot] {
        var threads: [ThreadSnapshot] = []
        for held in session.threads {
            var registers: Registers? = nil
            do {
                registers = try session.registers(of: held.tid)
                if vectorRegisters { registers?.xmmLow = try session.xmmLow(of: held.tid) }
            } catch {
                problems.append(error.description)
            }
            threads.append(ThreadSnapshot(tid: held.tid, name: "", registers: registers, faultRegisters: nil, isCrashing: false))
        }
        return threads
    }

    /// Captures a snapshot of the process held by `session`. `fault` names the crashing thread and
    /// its registers at the fault when a payload said so. With `vectorRegisters`, each thread's
    /// xmm registers are read too (one more system call a thread; the variables tracer needs them
    /// for floating-point values in the innermost frame).
    /// `stackCopyLimit` caps the bytes of stacks copied up front (the crashing thread's first);
    /// what it cut is said in `stackCopyCut`.
    public static func capture(session: PtraceSession, fault: FaultContext?, vectorRegisters: Bool = false,
                               stackCopyLimit: Int = defaultStackCopyLimit) -> LiveProcessSnapshot {
        let pid = session.pid
        let source = addressSpaceThread(of: session)
        var problems = session.problems
        let mappings = MemoryMapping.parse(ProcFile.readText("/proc/\(source)/maps", limit: 16 << 20) ?? "")
        var threads = readThreads(of: session, vectorRegisters: vectorRegisters, problems: &problems)
        var resolvedFault = fault
        if let fault {
            let crashing = fault.crashingThread.flatMap { tid in threads.firstIndex { $0.tid == tid } }
                ?? findCrashingThread(threads, fault: fault, mappings: mappings)
            if let crashing {
                threads[crashing].isCrashing = true
                threads[crashing].faultRegisters = fault.registers
                resolvedFault?.crashingThread = threads[crashing].tid
                threads.insert(threads.remove(at: crashing), at: 0)
            } else if let tid = fault.crashingThread {
                problems.append("The crashing thread \(tid) named by the payload was not found among the target's threads.")
            }
        }
        let reader = CachingMemoryReader(ProcessVMReader(pid: source))
        let stackRanges = threads.flatMap { thread in
            [thread.registers?.rsp, thread.faultRegisters?.rsp].compactMap { sp in sp.flatMap { stackRange(sp: $0, mappings: mappings) } }
        }
        let stackBytes = reader.prefetch(stackRanges, limit: stackCopyLimit)
        let wanted = CachingMemoryReader.bytesToCopy(stackRanges)
        let cut = wanted > stackCopyLimit
            ? "stack_copy_limit (\(stackCopyLimit / 1024) KiB) cut the up-front copy of \(threads.count) threads' stacks from \(wanted / 1024) KiB; the rest was read page by page as unwinding needed it"
            : nil
        // The crashing thread's xmm registers at the fault are where its signal context points
        // (the kernel saved them on that thread's stack, which the prefetch just copied).
        if vectorRegisters, let crashing = threads.firstIndex(where: \.isCrashing),
           let address = threads[crashing].faultRegisters?.floatingPointStateAddress {
            if let xmm = faultXMM(at: address, memory: reader) {
                threads[crashing].faultRegisters?.xmmLow = xmm
            } else {
                problems.append("The crashing thread's floating-point registers at the fault could not be read at \(address.hex).")
            }
        }
        let commandLine = (ProcFile.readBytes("/proc/\(source)/cmdline", limit: 64 * 1024).map { bytes in
            bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        }.get ?? []).filter { !$0.isEmpty }
        return LiveProcessSnapshot(
            pid: pid, executable: ProcFile.readLink("/proc/\(source)/exe") ?? commandLine.first ?? "?",
            commandLine: commandLine, threads: threads, mappings: mappings,
            fault: resolvedFault, memory: reader, problems: problems, copiedStackBytes: stackBytes, stackCopyCut: cut,
            addressSpacePid: source)
    }

    /// The thread whose /proc entry stands for the process `session` holds (`addressSpacePid`).
    package static func addressSpaceThread(of session: PtraceSession) -> Int32 {
        session.threads.contains { $0.tid == session.pid } ? session.pid : session.threads.first?.tid ?? session.pid
    }

    /// Takes the module index opened elsewhere for `addressSpacePid` (a crash's second thread
    /// opens it while the stacks are copied and unwound) instead of opening one on first use.
    public func adoptModules(_ index: ModuleIndex?) {
        if let problem = index?.problem { moduleProblems.append(problem) }
        modules = index
    }

    /// The part of a stack copied up front for a stack pointer: from just below `sp` (the red
    /// zone) up to `stackPrefetchBytes` above it, within the mapping that holds it. `sp` may come
    /// from the payload (untrusted): no arithmetic on it may trap.
    static func stackRange(sp: UInt64, mappings: [MemoryMapping]) -> ClosedRange<UInt64>? {
        guard sp > 128, let mapping = mappings.mapping(containing: sp) else { return nil }
        let low = max(mapping.start, sp - 128)
        let (above, overflow) = sp.addingReportingOverflow(stackPrefetchBytes)
        let high = (overflow ? mapping.end : min(mapping.end, above)) &- 1
        return high > low ? low...high : nil
    }

    /// The low 8 bytes of xmm0–xmm15 from the fxsave area at `address` (a signal context's
    /// fpregs: a payload field, so any value), or nil if it cannot be read.
    static func faultXMM(at address: UInt64, memory: any MemoryReader) -> [UInt64]? {
        let size = Int(IVK_XMM_SIZE)
        let (start, overflow) = address.addingReportingOverflow(UInt64(IVK_FXSAVE_XMM_OFFSET))
        guard !overflow, let bytes = try? memory.readBytes(at: start, count: Int(IVK_XMM_COUNT) * size) else { return nil }
        return stride(from: 0, to: bytes.count, by: size).map { offset in
            bytes[offset..<offset + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    /// Reads every thread's name (/proc/PID/task/TID/comm). Names need no stop: a live snapshot
    /// reads them after releasing the target, to keep its threads' freeze short.
    public func readThreadNames() {
        for (index, name) in ProcFile.threadNames(pid: pid, tids: threads.map(\.tid)).enumerated() {
            threads[index].name = name
        }
    }

    /// Gives the threads the names read elsewhere (by thread id): a crash's second thread reads
    /// them while this snapshot's stacks are copied and unwound.
    public func applyThreadNames(_ names: [Int32: String]) {
        for index in threads.indices {
            threads[index].name = names[threads[index].tid] ?? ""
        }
    }

    /// Finds the crashing thread when the payload did not name it (ATS 9.x–10.1):
    /// 1. the thread blocked in wait4() on this helper: the server's handler waits for us there;
    /// 2. else the thread whose stack mapping holds the stack pointer of the fault context.
    static func findCrashingThread(_ threads: [ThreadSnapshot], fault: FaultContext,
                                   mappings: [MemoryMapping]) -> Int? {
        let wait4: UInt64 = 61
        let helper = UInt64(getpid())
        if let index = threads.firstIndex(where: { $0.registers?.origRax == wait4 && $0.registers?.rdi == helper }) {
            return index
        }
        if let sp = fault.registers?.rsp, let stack = mappings.mapping(containing: sp) {
            return threads.firstIndex { thread in
                thread.registers.map { stack.contains($0.rsp) } ?? false
            }
        }
        return nil
    }

    /// The state letter of a thread in /proc/PID/task/TID/stat ("S", "R", "D", "t").
    package static func threadState(pid: Int32, tid: Int32) -> String {
        guard let stat = ProcFile.readText("/proc/\(pid)/task/\(tid)/stat", limit: 4096),
              let close = stat.lastIndex(of: ")") else { return "?" }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init) ?? "?"
    }
}

extension Result {
    /// The success value, or nil.
    package var get: Success? { try? get() }
}
