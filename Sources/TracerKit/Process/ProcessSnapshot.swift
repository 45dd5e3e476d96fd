// ProcessSnapshot: the read-only picture of a target that every capture stage reads: its threads
// and their registers, its memory maps and loaded modules, the fault, and its memory through a
// MemoryReader. Stages see only this protocol, never ptrace, so each can run on a constructed
// snapshot in a unit test (crashpad's snapshot/ interfaces and their test doubles are the model).
// LiveProcessSnapshot is the one captured from a stopped process; InMemoryProcessSnapshot is the
// test double.

#if canImport(Glibc)
import Glibc
#endif

/// One thread of a snapshot.
public struct ThreadSnapshot: Sendable, Equatable {
    public var tid: Int32
    /// The thread's name (/proc/PID/task/TID/comm).
    public var name: String
    /// Registers where the thread is stopped (ptrace), nil if they could not be read.
    public var registers: Registers?
    /// For the crashing thread: the registers at the faulting instruction (from the payload's
    /// ucontext). Unwinding starts here so frame 0 is the faulting function, not the handler.
    public var faultRegisters: Registers?
    public var isCrashing: Bool

    /// Where unwinding should start.
    public var unwindStart: Registers? { faultRegisters ?? registers }

    public init(tid: Int32, name: String, registers: Registers?, faultRegisters: Registers? = nil, isCrashing: Bool = false) {
        self.tid = tid; self.name = name; self.registers = registers; self.faultRegisters = faultRegisters
        self.isCrashing = isCrashing
    }
}

/// A read-only picture of a target process, as the capture stages read it.
///
/// Contract: every property is a value captured once (reading it twice gives the same answer),
/// except `memory`, which reads the target, and `modules`, which an implementation may open on
/// first use. After a crash the stages run while the target's threads are still held; in a live
/// snapshot they run after the release: registers and the stacks copied up front are as of the
/// stop, any other memory is read from the running process. Threads come crashing thread first.
public protocol ProcessSnapshot: AnyObject {
    /// The process.
    var pid: Int32 { get }
    /// The thread whose /proc entry (maps, memory) stands for the process: `pid` itself, unless
    /// its main thread has exited while other threads run.
    var addressSpacePid: Int32 { get }
    /// The executable's path (/proc/PID/exe).
    var executable: String { get }
    /// The command line's words.
    var commandLine: [String] { get }
    /// The threads, the crashing one first.
    var threads: [ThreadSnapshot] { get }
    /// The memory map (/proc/PID/maps).
    var mappings: [MemoryMapping] { get }
    /// The loaded modules (libdwfl), nil when they cannot be listed (or, in a test double, are not given).
    var modules: ModuleIndex? { get }
    /// The fault, with its crashing thread resolved; nil for a live snapshot.
    var fault: FaultContext? { get }
    /// The target's memory.
    var memory: any MemoryReader { get }
    /// Sentences about what could not be captured.
    var problems: [String] { get }
}

extension ProcessSnapshot {
    /// The crashing thread, if known.
    public var crashingThread: ThreadSnapshot? { threads.first { $0.isCrashing } }

    /// The message glibc left for abort() (an assertion's "file:line: function: Assertion `…'
    /// failed."), read from `__abort_msg` in the target's C library; nil if there is none.
    public func abortMessage() -> String? {
        guard let symbol = modules?.address(ofSymbol: "__abort_msg", inModule: "libc.so"),
              let message = try? memory.read(UInt64.self, at: symbol), message != 0 else { return nil }
        // struct abort_msg_s { unsigned int size; char msg[]; }
        return memory.readCString(at: message &+ 4, limit: 4096)?.trimmingWhitespace()
    }
}
