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
    /// snapshot, from the registers and stacks copied while it was).
    public func capture(snapshot: any ProcessSnapshot, deadline: Deadline) -> UnwoundStacks {
        let started = Deadline.now()
        let unwinder = RemoteUnwinder(snapshot: snapshot, recordsRegisters: recordsRegisters)
        var stacks = UnwoundStacks(threads: [])
        var frameCount = 0
        for thread in snapshot.threads {
            var threadReport = ThreadReport(tid: thread.tid, name: thread.name, isCrashing: thread.isCrashing,
                                            registers: thread.unwindStart)
            if deadline.hasExpired {
                threadReport.unwindStop = "not unwound: the deadline passed"
            } else if let start = thread.unwindStart {
                var stack = unwinder.unwind(from: start, startRecovery: thread.faultRegisters != nil ? .faultContext : .stopped,
                                            maxFrames: maxFrames, deadline: deadline)
                // Registers from the payload (the server's word) that lead nowhere: unwind from
                // where the thread is stopped instead, through its signal handler to the fault.
                if thread.faultRegisters != nil, stack.frames.count <= 1, let stopped = thread.registers,
                   let why = stack.stopReason ?? stack.frames.first.flatMap({ unwinder.whyCodeEndsTheStack(at: $0.pc) }) {
                    let real = unwinder.unwind(from: stopped, startRecovery: .stopped, maxFrames: maxFrames, deadline: deadline)
                    if real.frames.count > stack.frames.count {
                        stacks.remarks.problems.append("The crash payload's registers for thread \(thread.tid) lead nowhere (pc \(start.rip.hex), sp \(start.rsp.hex): \(why)); its stack was unwound from where it is stopped instead, through its signal handler.")
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
                frameCount += stack.frames.count
                threadReport.unwindStop = stack.stopReason
            } else {
                threadReport.unwindStop = "not unwound: its registers could not be read"
            }
            stacks.threads.append(threadReport)
        }
        stacks.remarks.problems += unwinder.moduleProblems
        stacks.remarks.notes.append("unwind: \(snapshot.threads.count) threads, \(frameCount) frames unwound in \(Deadline.millisecondsSince(started)) ms")
        return stacks
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
