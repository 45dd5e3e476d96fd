// CoreFileReader: a report's worth of facts from an ELF core file on disk, with elfutils doing
// all the ELF work: libelf walks the notes (CoreNotes: the process, each thread's id and
// registers, the fatal signal), libdwfl reports the modules the
// core maps (dwfl_core_file_report), attaches to its threads (dwfl_core_file_attach) and unwinds
// each one (dwfl_thread_getframes), as `eu-stack --core` does; the symbolizer names the frames.
// Everything is read and symbolized inside `read`, so what it returns holds values only.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import CInvokerShim
import TracerKit

/// One thread of a core file: its id, registers and symbolized stack.
public struct CoreThread: Sendable {
    public var tid: Int32
    /// The signal the thread was handling when the core was written (NT_PRSTATUS pr_cursig).
    public var signal: Int32
    public var registers: Registers
    public var frames: [Frame]
    /// Why the stack ends where it does, when unwinding stopped on an error.
    public var unwindStop: String?
}

/// What a core file says about the process that dumped it.
public struct CoreDump: Sendable {
    public var path: String
    public var pid: Int32
    /// The process name (NT_PRPSINFO pr_fname, at most 15 characters, as /proc/PID/comm).
    public var processName: String?
    /// The start of the command line (NT_PRPSINFO pr_psargs, at most 80 characters).
    public var arguments: String?
    /// The executable: the one given, else the module the core names after the process.
    public var executable: String?
    /// The fatal signal (NT_SIGINFO), if the core has one.
    public var signal: SignalInfo?
    /// The thread that dumped the core (the first NT_PRSTATUS note, the one the signal hit).
    public var crashingThread: Int32?
    /// Every thread, in the core's order (the crashing thread first).
    public var threads: [CoreThread]
    public var modules: [LoadedModule]
    /// Sentences about whatever could not be read.
    public var problems: [String]
    /// Globals the variables tracer read, and its timing notes (when it ran).
    public var globals: [Variable] = []
    public var notes: [String] = []
    /// Whether the variables tracer ran on the core's memory.
    public var readVariables = false
}

/// Why a core file could not be read at all.
public enum CoreFileError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case notACore(path: String, reason: String)
    case cannotReport(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "Cannot open the core file \(path): \(reason)."
        case .notACore(let path, let reason): "\(path) is not an ELF core file: \(reason)."
        case .cannotReport(let path, let reason): "Cannot read the modules and threads of the core file \(path): \(reason)."
        }
    }
}

public enum CoreFileReader {
    /// Frames unwound per thread at most (a runaway recursion stops here).
    public static let frameLimit = 256

    /// Reads the core file at `path`; `executable` names the program when the core's own file
    /// names cannot be trusted or found (a program moved or rebuilt since). With `variables`, the
    /// variables tracer reads the frames' variables from the core's memory (CoreFileMemoryReader),
    /// as it reads a live process's, within `deadline`.
    /// `present` names the file ranges that hold the core's bytes when the file is a sparse copy.
    public static func read(path: String, executable: String?, variables: VariablesOptions? = nil,
                            deadline: Deadline = Deadline.now().adding(seconds: 60),
                            present: [Range<UInt64>]? = nil) throws(CoreFileError) -> CoreDump {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        _ = elf_version(UInt32(EV_CURRENT))
        guard let elf = elf_begin(descriptor, ELF_C_READ_MMAP, nil) else {
            throw .notACore(path: path, reason: String(cString: elf_errmsg(-1)))
        }
        defer { elf_end(elf) }
        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil, header.e_type == UInt16(ET_CORE) else {
            throw .notACore(path: path, reason: "its ELF type is not ET_CORE")
        }
        let notes = CoreNotes(elf: elf)
        var dump = CoreDump(path: path, pid: notes.pid, processName: notes.processName, arguments: notes.arguments,
                            signal: notes.signal, crashingThread: notes.crashingThread, threads: [], modules: [],
                            problems: notes.problems)

        guard let dwfl = ivk_dwfl_begin_for_core() else {
            throw .cannotReport(path: path, reason: String(cString: dwfl_errmsg(-1)))
        }
        let reported = dwfl_core_file_report(dwfl, elf, executable)
        dwfl_report_end(dwfl, nil, nil)
        guard reported >= 0 else {
            let reason = String(cString: dwfl_errmsg(-1))
            dwfl_end(dwfl)
            throw .cannotReport(path: path, reason: reason)
        }
        // The index ends the session; it must do so before elf_end (deferred above) runs.
        var stacks: [Int32: ThreadStack] = [:]
        do {
            let index = ModuleIndex(reportedSession: dwfl, executablePath: executable)
            dump.modules = index.modules
            dump.executable = executable ?? mainExecutable(of: index.modules, processName: dump.processName)
            let attached = dwfl_core_file_attach(dwfl, elf)
            if attached < 0 {
                dump.problems.append("Cannot unwind the core's threads: \(String(cString: dwfl_errmsg(-1))).")
            } else {
                stacks = unwindThreads(dwfl)
            }
            for thread in notes.threads {
                let stack = stacks[thread.tid] ?? ThreadStack(frames: [], stop: "libdwfl did not find this thread in the core")
                var frames = stack.frames
                if let first = frames.indices.first {
                    frames[first].recovery = thread.tid == dump.crashingThread ? .faultContext : .stopped
                    // xmm0–xmm15 (DWARF 17–32, from NT_PRFPREG) are known in frame 0 only.
                    for (number, value) in (thread.registers.xmmLow ?? []).enumerated() {
                        frames[first].registers.values[UInt16(17 + number)] = value
                    }
                }
                dump.threads.append(CoreThread(tid: thread.tid, signal: thread.signal, registers: thread.registers,
                                               frames: frames, unwindStop: stack.stop))
            }
            // Variables are read from the unwound frames before they are named, as in a live capture.
            if let variables {
                readVariables(into: &dump, options: variables, notes: notes, modules: index,
                              memory: CoreFileMemoryReader(descriptor: descriptor, elf: elf, modules: index, present: present),
                              deadline: deadline)
            }
            let symbolizer = Symbolizer(modules: index)
            for thread in dump.threads.indices {
                dump.threads[thread].frames = symbolizer.symbolize(dump.threads[thread].frames)
            }
        }
        return dump
    }

    /// Runs the variables tracer on the core: a snapshot whose memory is the core file's.
    static func readVariables(into dump: inout CoreDump, options: VariablesOptions, notes: CoreNotes, modules: ModuleIndex,
                              memory: any MemoryReader, deadline: Deadline) {
        let fault = FaultContext(pid: dump.pid, crashingThread: dump.crashingThread, signal: dump.signal,
                                 registers: notes.threads.first?.registers)
        let snapshot = CoreProcessSnapshot.ofCoreFile(pid: dump.pid, executable: dump.executable ?? "?",
                                                      threads: notes.threads.map { ($0.tid, $0.registers) }, fault: fault,
                                                      memory: memory, modules: modules)
        let stacks = UnwoundStacks(threads: dump.threads.map { thread in
            ThreadReport(tid: thread.tid, name: "", isCrashing: thread.tid == dump.crashingThread, registers: thread.registers,
                         frames: thread.frames, unwindStop: thread.unwindStop)
        })
        let variables = VariablesTracer(options: options).capture(snapshot: snapshot, stacks: stacks, deadline: deadline)
        let threads = stacks.attaching(variables)
        for index in dump.threads.indices { dump.threads[index].frames = threads[index].frames }
        dump.globals = variables.globals
        dump.readVariables = true
        dump.problems += variables.remarks.problems
        dump.notes += variables.remarks.notes
    }

    /// The module the process was started from: the one whose file name begins with the process
    /// name (the kernel truncates comm to 15 characters), else the first.
    static func mainExecutable(of modules: [LoadedModule], processName: String?) -> String? {
        if let processName, !processName.isEmpty,
           let match = modules.first(where: { ($0.path.split(separator: "/").last.map(String.init) ?? "").hasPrefix(processName) }) {
            return match.path
        }
        return nil
    }

    struct ThreadStack {
        var frames: [Frame]
        var stop: String?
    }

    /// Every thread's physical frames (pc and stack pointer), by tid.
    static func unwindThreads(_ dwfl: OpaquePointer) -> [Int32: ThreadStack] {
        final class Box { var stacks: [Int32: ThreadStack] = [:]; var current: [Frame] = [] }
        let box = Box()
        _ = withExtendedLifetime(box) {
            dwfl_getthreads(dwfl, { thread, argument in
                let box = Unmanaged<Box>.fromOpaque(argument!).takeUnretainedValue()
                box.current = []
                let result = dwfl_thread_getframes(thread!, { state, argument in
                    let box = Unmanaged<Box>.fromOpaque(argument!).takeUnretainedValue()
                    var pc: Dwarf_Addr = 0
                    var isActivation = false
                    guard dwfl_frame_pc(state!, &pc, &isActivation) else { return Int32(DWARF_CB_ABORT) }
                    var stackPointer: Dwarf_Word = 0
                    _ = dwfl_frame_reg(state!, 7, &stackPointer)
                    let index = box.current.count
                    // A frame above 0 whose pc is exact follows a signal trampoline.
                    if index > 0, isActivation { box.current[index - 1].isSignalFrame = true }
                    var frame = Frame(index: index, pc: pc, stackPointer: stackPointer,
                                      recovery: index == 0 ? .stopped : .callFrameInfo)
                    // As RemoteUnwinder: every general register in frame 0, the callee-saved ones above.
                    for number: UInt16 in index == 0 ? Array(0...16) : [3, 6, 7, 12, 13, 14, 15, 16] {
                        var value: Dwarf_Word = 0
                        if dwfl_frame_reg(state!, UInt32(number), &value) == 0 { frame.registers.values[number] = value }
                    }
                    // A frame's canonical frame address is its caller's stack pointer.
                    if index > 0, !isActivation { box.current[index - 1].registers.cfa = stackPointer }
                    box.current.append(frame)
                    return box.current.count >= CoreFileReader.frameLimit ? Int32(DWARF_CB_ABORT) : Int32(DWARF_CB_OK)
                }, argument)
                var stop: String? = nil
                if result == -1 {
                    let message = String(cString: dwfl_errmsg(-1))
                    // "no error" is how libdwfl says the outermost frame was reached.
                    if !message.isEmpty, message != "no error" { stop = "libdwfl: " + message }
                } else if box.current.count >= CoreFileReader.frameLimit {
                    stop = "the stack is deeper than \(CoreFileReader.frameLimit) frames"
                }
                box.stacks[dwfl_thread_tid(thread!)] = ThreadStack(frames: box.current, stop: stop)
                return Int32(DWARF_CB_OK)
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        return box.stacks
    }
}
