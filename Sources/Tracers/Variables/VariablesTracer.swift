// VariablesTracer (`use = "variables"`): parameters and locals in scope at each frame's pc, with
// their values, read from the stopped target, and the globals the configuration names. DWARF
// (libdw) names the variables, types and location expressions; the frame's registers from the
// unwinder and the target's memory give the values. It runs after the unwinder, in the stopped
// window, because values live in the target; budgets bound its bytes and its time.

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
public final class VariablesTracer: Tracer {
    public let name = "variables"
    public let options: VariablesOptions
    public let maxVariablesPerFrame = 128

    public init(options: VariablesOptions = VariablesOptions()) { self.options = options }

    public func capture(snapshot: ProcessSnapshot, report: inout CrashReport, deadline: Deadline) {
        guard let modules = snapshot.modules else { return }
        let started = Deadline.now()
        let budget = BudgetedMemoryReader(snapshot.memory, limit: options.maxTotalBytes,
                                          deadline: min(deadline, started.adding(seconds: options.timeout)))
        var formatter = ValueFormatter(memory: budget)
        formatter.options = ValueFormatOptions(maxDepth: options.maxDepth, maxElements: options.maxElements,
                                               maxValueBytes: options.maxValueBytes)
        formatter.symbolize = { address in Self.symbol(at: address, modules: modules) }
        var count = 0
        let faultAddress = report.fault?.signal.flatMap { $0.hasFaultAddress ? $0.address : nil }
        var threadsRead = 0
        let threadLocal = ThreadLocalStorage(modules: modules, memory: budget)
        // A thread's thread pointer, from where ptrace stopped it (a signal context has none).
        func threadLocalBlock(_ tid: Int32) -> (UInt64) -> Result<UInt64, ThreadLocalStorage.Failure> {
            let pointer = snapshot.threads.first { $0.tid == tid }?.registers?.fsBase ?? 0
            return { bias in threadLocal.blockAddress(moduleBias: bias, threadPointer: pointer) }
        }
        let chosen = threadsToRead(report.threads, pid: snapshot.pid)
        for threadIndex in chosen {
            guard !budget.isSpent else { break }
            let frames = report.threads[threadIndex].frames
            let reader = FrameVariableReader(frames: frames, modules: modules, memory: budget, formatter: formatter,
                                             maxVariablesPerFrame: maxVariablesPerFrame,
                                             threadLocalBlock: threadLocalBlock(report.threads[threadIndex].tid))
            threadsRead += 1
            for frameIndex in frames.indices.prefix(options.maxFrames) where !budget.isSpent {
                // A null-page fault is the crashing frame's business: elsewhere every NULL pointer
                // would "point at" it.
                let crashingFrame = report.threads[threadIndex].isCrashing && frameIndex == 0
                let nearFault = faultAddress.flatMap { $0 >= FaultClassifier.nullRegionSize || crashingFrame ? $0 : nil }
                let levels = reader.variables(ofFrame: frameIndex, faultAddress: report.threads[threadIndex].isCrashing ? nearFault : nil)
                Self.attach(levels, to: &report.threads[threadIndex].frames[frameIndex])
                count += levels.own.count + levels.inlined.reduce(0) { $0 + $1.variables.count }
            }
        }
        if !options.globals.isEmpty {
            // Thread-local globals as the crashing thread (in a snapshot, the main thread) sees them.
            let thread = chosen.first.map { report.threads[$0].tid } ?? snapshot.pid
            report.globals = GlobalVariables.read(options.globals, modules: modules, formatter: formatter, budget: budget,
                                                  threadLocalBlock: threadLocalBlock(thread))
        }
        if let reason = budget.spentReason {
            report.problems.append("variables: stopped early, \(reason) is spent (\(budget.bytesRead) bytes read); raise "
                                   + "max_total_bytes or timeout on the variables tracer to see more.")
        }
        report.notes.append("variables: \(count) in \(threadsRead) thread(s) and \(report.globals.count) global(s), "
                            + "\(budget.bytesRead) bytes read, in \(Deadline.millisecondsSince(started)) ms")
    }

    /// Gives a physical frame its variables: the function's own, and each inlined level's to
    /// that level (the symbolizer, which runs later, names and positions the same levels, from
    /// the same scope chain).
    static func attach(_ levels: FrameVariableReader.Levels, to frame: inout Frame) {
        frame.variables = levels.own
        if frame.inlined.count == levels.inlined.count {
            for index in levels.inlined.indices { frame.inlined[index].variables = levels.inlined[index].variables }
        } else {
            frame.inlined = levels.inlined
        }
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
