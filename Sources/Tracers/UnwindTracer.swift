// UnwindTracer: the native unwinder (`use = "unwind"`): every thread's stack, symbolized. The
// crashing thread comes first and starts at the faulting instruction. Capture walks the stacks
// (target memory, while stopped) and returns them as UnwoundStacks; finish names the frames
// (module files only, after release) and returns SymbolizedStacks.

import TracerKit

/// Unwinds and symbolizes every thread of the snapshot.
public struct UnwindTracer: Sendable, Equatable {
    /// Its name in configuration (`use = "unwind"`), in Capture Timing and in the registry.
    public static let name = "unwind"
    public var maxFrames: Int
    /// Keep each frame's registers (the variables tracer reads them; nothing else does).
    public var recordsRegisters: Bool

    public init(maxFrames: Int = RemoteUnwinder.defaultMaxFrames, recordsRegisters: Bool = true) {
        self.maxFrames = maxFrames
        self.recordsRegisters = recordsRegisters
    }

    /// Unwinds every thread of `snapshot` (after a crash, while the target is stopped; in a live
    /// snapshot, from the registers and stacks copied while it was). With `offer`, the threads
    /// are shared (UnwindShare) with a helper on another thread: `offer` hands it over before
    /// this thread starts taking threads; the result is the same, merged in thread order.
    public func capture(snapshot: any ProcessSnapshot, deadline: Deadline,
                        offer: ((UnwindShare) -> Void)? = nil) -> UnwoundStacks {
        let started = Deadline.now()
        let unwinder = RemoteUnwinder(snapshot: snapshot, recordsRegisters: recordsRegisters)
        let threads = snapshot.threads
        let maxFrames = maxFrames
        let unwindOne: (Int, RemoteUnwinder) -> UnwindShare.Outcome = { index, unwinder in
            let known = unwinder.moduleProblems.count
            var problems: [String] = []
            let (report, frames) = Self.unwind(threads[index], with: unwinder, maxFrames: maxFrames, deadline: deadline,
                                              problems: &problems)
            return UnwindShare.Outcome(report: report, frames: frames, problems: problems,
                                       moduleProblems: Array(unwinder.moduleProblems[known...]))
        }
        let outcomes: [UnwindShare.Outcome]
        var helped = 0
        if let offer, threads.count > 1, let cache = snapshot.memory as? CachingMemoryReader {
            let recordsRegisters = recordsRegisters
            let share = UnwindShare(count: threads.count, makeUnwinder: {
                cache.forAnotherThread().map { RemoteUnwinder(snapshot: snapshot, recordsRegisters: recordsRegisters, memory: $0) }
            }, unwind: unwindOne)
            offer(share)
            outcomes = share.run(with: unwinder)
            helped = share.helped
        } else {
            outcomes = threads.indices.map { unwindOne($0, unwinder) }
        }
        var stacks = UnwoundStacks(threads: [])
        var frameCount = 0
        var moduleProblems: [String] = []
        for outcome in outcomes {
            stacks.threads.append(outcome.report)
            stacks.remarks.problems += outcome.problems
            frameCount += outcome.frames
            for problem in outcome.moduleProblems where !moduleProblems.contains(problem) { moduleProblems.append(problem) }
        }
        stacks.remarks.problems += moduleProblems
        stacks.remarks.notes.append("unwind: \(snapshot.threads.count) threads, \(frameCount) frames unwound in \(Deadline.millisecondsSince(started)) ms"
                                    + (helped > 0 ? " (\(helped) of the threads on a second thread)" : ""))
        return stacks
    }

    /// One thread's stack (its report and frame count); sentences about it go to `problems`.
    private static func unwind(_ thread: ThreadSnapshot, with unwinder: RemoteUnwinder, maxFrames: Int, deadline: Deadline,
                               problems: inout [String]) -> (ThreadReport, Int) {
        var threadReport = ThreadReport(tid: thread.tid, name: thread.name, isCrashing: thread.isCrashing,
                                        registers: thread.unwindStart)
        guard !deadline.hasExpired else {
            threadReport.unwindStop = "not unwound: the deadline passed"
            return (threadReport, 0)
        }
        guard let start = thread.unwindStart else {
            threadReport.unwindStop = "not unwound: its registers could not be read"
            return (threadReport, 0)
        }
        var stack = unwinder.unwind(from: start, startRecovery: thread.faultRegisters != nil ? .faultContext : .stopped,
                                    maxFrames: maxFrames, deadline: deadline)
        // Registers from the payload (the server's word) that lead nowhere: unwind from
        // where the thread is stopped instead, through its signal handler to the fault.
        if thread.faultRegisters != nil, stack.frames.count <= 1, let stopped = thread.registers,
           let why = stack.stopReason ?? stack.frames.first.flatMap({ unwinder.whyCodeEndsTheStack(at: $0.pc) }) {
            let real = unwinder.unwind(from: stopped, startRecovery: .stopped, maxFrames: maxFrames, deadline: deadline)
            if real.frames.count > stack.frames.count {
                problems.append("The crash payload's registers for thread \(thread.tid) lead nowhere (pc \(start.rip.hex), sp \(start.rsp.hex): \(why)); its stack was unwound from where it is stopped instead, through its signal handler.")
                stack = real
                threadReport.registers = stopped
            }
        }
        threadReport.frames = stack.frames.enumerated().map { index, raw in
            var frame = Frame(index: index, pc: raw.pc, stackPointer: raw.stackPointer, recovery: raw.recovery,
                              isSignalFrame: raw.isSignalFrame)
            frame.registers = raw.registers
            return frame
        }
        threadReport.unwindStop = stack.stopReason
        return (threadReport, stack.frames.count)
    }

    /// Names the frames of `threads` (the unwound stacks, with any variables already on their
    /// frames and levels) from the modules' files, after the target is released; the scope
    /// chains the variables stage walked are reused (`ModuleIndex.scopeChain`).
    public func finish(_ threads: [ThreadReport], modules: ModuleIndex?, deadline: Deadline) -> SymbolizedStacks {
        let started = Deadline.now()
        let symbolizer = Symbolizer(modules: modules)
        var result = SymbolizedStacks(threads: threads)
        for index in result.threads.indices where !deadline.hasExpired {
            result.threads[index].frames = symbolizer.symbolize(result.threads[index].frames)
        }
        result.remarks.notes.append("unwind: \(symbolizer.lookupCount) distinct addresses symbolized in \(Deadline.millisecondsSince(started)) ms")
        return result
    }

}
