// ProcessSnapshot+Core: the snapshot of a process the kernel is dumping to our pipe
// (kernel.core_pattern = |invoker core %P …). Its threads and their registers come from the
// core's notes; everything else is read from the process itself: while the kernel is blocked on
// the pipe, /proc/%P (maps, cmdline, exe) stays readable and process_vm_readv reads its memory.
// Nothing is stopped or attached: the kernel already holds every thread. A core file on disk has
// its snapshot too: memory from the file, modules from libdwfl's core session.

#if canImport(Glibc)
import Glibc
#endif

extension ProcessSnapshot {
    /// Whether `pid` is the process a core describes and its memory can still be read: its
    /// /proc/PID/comm is the core's process name and the crashing thread's stack is readable.
    /// False when the process is gone (a core fed in after the fact) or its pid was reused.
    public static func isDumping(pid: Int32, processName: String?, stackPointer: UInt64?) -> Bool {
        guard let comm = ProcFile.readText("/proc/\(pid)/comm", limit: 64)?.trimmingWhitespace(),
              processName == nil || comm == processName, let stackPointer else { return false }
        return (try? ProcessVMReader(pid: pid).read(UInt64.self, at: stackPointer)) != nil
    }

    /// The snapshot of `pid` while the kernel dumps its core: `threads` (tid and registers, the
    /// crashing thread first) from the core's notes; for the crashing thread, its registers are at
    /// the faulting instruction, so unwinding starts there. `stackCopyLimit` caps the stacks
    /// copied at once, as for a crash. Threads are named from /proc/PID/task/TID/comm; the
    /// core's own process (`notedPID`, as its NT_PRPSINFO has it) names the main thread when that
    /// cannot be read (the pids of another pid namespace).
    public static func dumping(pid: Int32, threads noted: [(tid: Int32, registers: Registers)], fault: FaultContext,
                               notedPID: Int32, processName: String?,
                               stackCopyLimit: Int = defaultStackCopyLimit) -> ProcessSnapshot {
        let mappings = MemoryMapping.parse(ProcFile.readText("/proc/\(pid)/maps", limit: 16 << 20) ?? "")
        let threads = noted.map { tid, registers in
            let crashing = tid == fault.crashingThread
            return ThreadSnapshot(tid: tid, name: "", registers: registers, faultRegisters: crashing ? registers : nil,
                                  isCrashing: crashing)
        }
        let reader = CachingMemoryReader(ProcessVMReader(pid: pid))
        let ranges = threads.compactMap { $0.registers.flatMap { stackRange(sp: $0.rsp, mappings: mappings) } }
        let copied = reader.prefetch(ranges, limit: stackCopyLimit)
        let commandLine = (ProcFile.readBytes("/proc/\(pid)/cmdline", limit: 64 * 1024).map { bytes in
            bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        }.get ?? [])
        var problems: [String] = []
        if mappings.isEmpty { problems.append("The memory map of process \(pid) (/proc/\(pid)/maps) could not be read while its core was written.") }
        let snapshot = ProcessSnapshot(pid: pid, executable: ProcFile.readLink("/proc/\(pid)/exe") ?? commandLine.first ?? "?",
                                       commandLine: commandLine, threads: threads, mappings: mappings, fault: fault, memory: reader,
                                       problems: problems, copiedStackBytes: copied)
        snapshot.readThreadNames()
        for index in snapshot.threads.indices where snapshot.threads[index].name.isEmpty && snapshot.threads[index].tid == notedPID {
            snapshot.threads[index].name = processName ?? ""
        }
        return snapshot
    }

    /// The snapshot of a dead process as its core file holds it: `threads` from the notes (the
    /// crashing thread first), memory read from the file, `modules` from libdwfl's core session.
    /// It has no memory map, command line or thread names.
    public static func ofCoreFile(pid: Int32, executable: String, threads noted: [(tid: Int32, registers: Registers)],
                                  fault: FaultContext, memory: any MemoryReader, modules: ModuleIndex) -> ProcessSnapshot {
        let threads = noted.map { tid, registers in
            let crashing = tid == fault.crashingThread
            return ThreadSnapshot(tid: tid, name: "", registers: registers, faultRegisters: crashing ? registers : nil,
                                  isCrashing: crashing)
        }
        return ProcessSnapshot(pid: pid, executable: executable, commandLine: [], threads: threads, mappings: [], fault: fault,
                               memory: CachingMemoryReader(memory), problems: [], copiedStackBytes: 0, modules: modules)
    }
}
