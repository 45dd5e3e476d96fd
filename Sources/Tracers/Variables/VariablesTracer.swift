// VariablesTracer (`use = "variables"`): parameters and locals in scope at each frame's pc, with
// their values, read from the stopped target, and the globals the configuration names. DWARF
// (libdw) names the variables, types and location expressions; the frame's registers from the
// unwinder and the target's memory give the values. It takes the unwinder's UnwoundStacks as a
// parameter (so it cannot run before them) and runs in the stopped window, because values live in
// the target; budgets bound its bytes and its time. It returns CapturedVariables.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

/// What the variables tracer reads, and how much it may.
public struct VariablesOptions: Sendable, Equatable {
    /// Every thread's frames instead of the crashing thread's only (in a live snapshot: the main
    /// thread's).
    public var allThreads = false
    /// Frames per thread (innermost first).
    public var maxFrames = 16
    /// Nesting of structures shown before "{...}".
    public var maxDepth = 8
    /// Array elements and string characters shown before "...".
    public var maxElements = 200
    /// Bytes read for one value.
    public var maxValueBytes = 65536
    /// Bytes read from the target in all.
    public var maxTotalBytes = 4 << 20
    /// Seconds the tracer may take (the server is stopped meanwhile).
    public var timeout = 0.5
    /// Globals to read ("counter", "ns::state").
    public var globals: [String] = []

    public init() {}
}

/// Collects variables of the crashing thread's frames (or of every thread's), and named globals.
public final class VariablesTracer: Sendable, Equatable {
    /// Its name in configuration (`use = "variables"`) and in the registry.
    public static let name = "variables"
    public let options: VariablesOptions
    public let maxVariablesPerFrame = 128

    public init(options: VariablesOptions = VariablesOptions()) { self.options = options }

    /// Tracers with the same options are the same configuration.
    public static func == (lhs: VariablesTracer, rhs: VariablesTracer) -> Bool { lhs.options == rhs.options }

    /// Reads the variables of the frames of `stacks` (after a crash, while the target is stopped;
    /// in a live snapshot, values outside the copied stacks are read from the running process).
    public func capture(snapshot: any ProcessSnapshot, stacks: UnwoundStacks, deadline: Deadline) -> CapturedVariables {
        var result = CapturedVariables()
        guard let modules = snapshot.modules else { return result }
        let threads = stacks.threads
        let started = Deadline.now()
        let budget = BudgetedMemoryReader(snapshot.memory, limit: options.maxTotalBytes,
                                          deadline: min(deadline, started.adding(seconds: options.timeout)))
        var formatter = ValueFormatter(memory: budget)
        formatter.options = ValueFormatOptions(maxDepth: options.maxDepth, maxElements: options.maxElements,
                                               maxValueBytes: options.maxValueBytes)
        formatter.symbolize = { address in Self.symbol(at: address, modules: modules) }
        var count = 0
        let faultAddress = snapshot.fault?.signal.flatMap { $0.hasFaultAddress ? $0.address : nil }
        var threadsRead = 0
        let threadLocal = ThreadLocalStorage(modules: modules, memory: budget)
        // A thread's thread pointer, from where ptrace stopped it (a signal context has none).
        func threadLocalBlock(_ tid: Int32) -> (UInt64) -> Result<UInt64, ThreadLocalStorage.Failure> {
            let pointer = snapshot.threads.first { $0.tid == tid }?.registers?.fsBase ?? 0
            return { bias in threadLocal.blockAddress(moduleBias: bias, threadPointer: pointer) }
        }
        let chosen = threadsToRead(threads, pid: snapshot.pid)
        for threadIndex in chosen {
            guard !budget.isSpent else { break }
            let frames = threads[threadIndex].frames
            let reader = FrameVariableReader(frames: frames, modules: modules, memory: budget, formatter: formatter,
                                             maxVariablesPerFrame: maxVariablesPerFrame,
                                             threadLocalBlock: threadLocalBlock(threads[threadIndex].tid))
            threadsRead += 1
            for frameIndex in frames.indices.prefix(options.maxFrames) where !budget.isSpent {
                // A null-page fault is the crashing frame's business: elsewhere every NULL pointer
                // would "point at" it.
                let crashingFrame = threads[threadIndex].isCrashing && frameIndex == 0
                let nearFault = faultAddress.flatMap { $0 >= FaultClassifier.nullRegionSize || crashingFrame ? $0 : nil }
                let levels = reader.variables(ofFrame: frameIndex, faultAddress: threads[threadIndex].isCrashing ? nearFault : nil)
                result.frames[threads[threadIndex].tid, default: [:]][frameIndex] = levels
                count += levels.count
            }
        }
        if !options.globals.isEmpty {
            // Thread-local globals as the crashing thread (in a snapshot, the main thread) sees them.
            let thread = chosen.first.map { threads[$0].tid } ?? snapshot.pid
            result.globals = GlobalVariables.read(options.globals, modules: modules, formatter: formatter, budget: budget,
                                                  threadLocalBlock: threadLocalBlock(thread))
        }
        if let reason = budget.spentReason {
            result.remarks.problems.append("variables: stopped early, \(reason) is spent (\(budget.bytesRead) bytes read); raise "
                                   + "max_total_bytes or timeout on the variables tracer to see more.")
        }
        result.remarks.notes.append("variables: \(count) in \(threadsRead) thread(s) and \(result.globals.count) global(s), "
                                    + "\(budget.bytesRead) bytes read, in \(Deadline.millisecondsSince(started)) ms")
        return result
    }

    /// The threads whose frames are read: every thread, or the crashing one; in a live snapshot,
    /// which has no crashing thread, the main thread (the one whose tid is the pid).
    func threadsToRead(_ threads: [ThreadReport], pid: Int32) -> [Int] {
        if options.allThreads { return Array(threads.indices) }
        let crashing = threads.indices.filter { threads[$0].isCrashing }
        if !crashing.isEmpty { return crashing }
        return threads.indices.filter { threads[$0].tid == pid }
    }

    /// "vars_counter" or "vtable for Circle+16": the symbol whose extent holds `address`, as gdb
    /// prints it after a pointer; nil outside every symbol.
    static func symbol(at address: UInt64, modules: ModuleIndex) -> String? {
        guard let module = modules.module(at: address) else { return nil }
        var offset: GElf_Off = 0
        var symbol = GElf_Sym()
        guard let name = dwfl_module_addrinfo(module, Dwarf_Addr(address), &offset, &symbol, nil, nil, nil),
              symbol.st_size > 0, offset < symbol.st_size else { return nil }
        let text = Demangler.demangle(String(cString: name))
        return offset == 0 ? text : "\(text)+\(offset)"
    }
}
