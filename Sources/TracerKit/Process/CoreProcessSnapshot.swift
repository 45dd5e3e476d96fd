// CoreProcessSnapshot: the ProcessSnapshot of a process known from its core. Its threads and
// their registers come from the core's notes. Two sources for the rest:
// * `dumping`: a process the kernel is dumping to our pipe (kernel.core_pattern = |invoker core
//   %P …): while the kernel waits on the pipe, /proc/%P (maps, cmdline, exe, thread names) stays
//   readable and process_vm_readv reads its memory. Nothing is stopped or attached: the kernel
//   already holds every thread.
// * `ofCoreFile`: a core file on disk: memory from the file (CoreFileMemoryReader), modules from
//   libdwfl's core session; no memory map, command line or thread names.

#if canImport(Glibc)
import Glibc
#endif

/// A snapshot of a process made from its core's notes and the process or the core file.
public final class CoreProcessSnapshot: ProcessSnapshot {
    public let pid: Int32
    public var addressSpacePid: Int32 { pid }
    public let executable: String
    public let commandLine: [String]
    public private(set) var threads: [ThreadSnapshot]
    public let mappings: [MemoryMapping]
    /// The modules: given (a core file's), else listed from /proc/PID/maps on first use.
    public private(set) lazy var modules: ModuleIndex? = {
        if let givenModules { return givenModules }
        let index = ModuleIndex(pid: pid)
        if let problem = index?.problem { moduleProblems.append(problem) }
        return index
    }()
    public let fault: FaultContext?
    public let memory: any MemoryReader
    public var problems: [String] { captureProblems + moduleProblems }
    /// Bytes of the threads' stacks copied at once from a dumping process.
    public let copiedStackBytes: Int
    private let captureProblems: [String]
    private var moduleProblems: [String] = []
    private let givenModules: ModuleIndex?

    init(pid: Int32, executable: String, commandLine: [String], threads: [ThreadSnapshot], mappings: [MemoryMapping],
         modules: ModuleIndex?, fault: FaultContext, memory: any MemoryReader, problems: [String], copiedStackBytes: Int) {
        self.pid = pid; self.executable = executable; self.commandLine = commandLine; self.threads = threads
        self.mappings = mappings; self.givenModules = modules; self.fault = fault; self.memory = memory
        self.captureProblems = problems; self.copiedStackBytes = copiedStackBytes
    }

    /// The threads of `noted` (tid and registers, the crashing thread first): the crashing
    /// thread's registers are at the faulting instruction, so unwinding starts there.
    private static func threads(_ noted: [(tid: Int32, registers: Registers)], fault: FaultContext) -> [ThreadSnapshot] {
        noted.map { tid, registers in
            let crashing = tid == fault.crashingThread
            return ThreadSnapshot(tid: tid, name: "", registers: registers, faultRegisters: crashing ? registers : nil,
                                  isCrashing: crashing)
        }
    }

    /// Whether `pid` is the process a core describes and its memory can still be read: its
    /// /proc/PID/comm is the core's process name and the crashing thread's stack is readable.
    /// False when the process is gone (a core fed in after the fact) or its pid was reused.
    public static func isDumping(pid: Int32, processName: String?, stackPointer: UInt64?) -> Bool {
        guard let comm = ProcFile.readText("/proc/\(pid)/comm", limit: 64)?.trimmingWhitespace(),
              processName == nil || comm == processName, let stackPointer else { return false }
        return (try? ProcessVMReader(pid: pid).read(UInt64.self, at: stackPointer)) != nil
    }

    /// The snapshot of `pid` while the kernel dumps its core. Threads are named from
    /// /proc/PID/task/TID/comm; the core's own process (`notedPID`, as its NT_PRPSINFO has it)
    /// names the main thread when that cannot be read (the pids of another pid namespace).
    /// `stackCopyLimit` caps the stacks copied at once, as for a crash.
    public static func dumping(pid: Int32, threads noted: [(tid: Int32, registers: Registers)], fault: FaultContext,
                               notedPID: Int32, processName: String?,
                               stackCopyLimit: Int = LiveProcessSnapshot.defaultStackCopyLimit) -> CoreProcessSnapshot {
        let mappings = MemoryMapping.parse(ProcFile.readText("/proc/\(pid)/maps", limit: 16 << 20) ?? "")
        var threads = threads(noted, fault: fault)
        let reader = CachingMemoryReader(ProcessVMReader(pid: pid))
        let ranges = threads.compactMap { $0.registers.flatMap { LiveProcessSnapshot.stackRange(sp: $0.rsp, mappings: mappings) } }
        let copied = reader.prefetch(ranges, limit: stackCopyLimit)
        for index in threads.indices {
            let tid = threads[index].tid
            threads[index].name = ProcFile.readText("/proc/\(pid)/task/\(tid)/comm", limit: 64)?.trimmingWhitespace()
                ?? (tid == notedPID ? processName ?? "" : "")
        }
        let commandLine = (ProcFile.readBytes("/proc/\(pid)/cmdline", limit: 64 * 1024).map { bytes in
            bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        }.get ?? [])
        var problems: [String] = []
        if mappings.isEmpty { problems.append("The memory map of process \(pid) (/proc/\(pid)/maps) could not be read while its core was written.") }
        return CoreProcessSnapshot(pid: pid, executable: ProcFile.readLink("/proc/\(pid)/exe") ?? commandLine.first ?? "?",
                                   commandLine: commandLine, threads: threads, mappings: mappings, modules: nil, fault: fault,
                                   memory: reader, problems: problems, copiedStackBytes: copied)
    }

    /// The snapshot of a dead process as its core file holds it: memory read from the file,
    /// `modules` from libdwfl's core session.
    public static func ofCoreFile(pid: Int32, executable: String, threads noted: [(tid: Int32, registers: Registers)],
                                  fault: FaultContext, memory: any MemoryReader, modules: ModuleIndex) -> CoreProcessSnapshot {
        CoreProcessSnapshot(pid: pid, executable: executable, commandLine: [], threads: threads(noted, fault: fault), mappings: [],
                            modules: modules, fault: fault, memory: CachingMemoryReader(memory), problems: [], copiedStackBytes: 0)
    }
}
