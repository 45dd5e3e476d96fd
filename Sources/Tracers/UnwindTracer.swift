// UnwindTracer: the native unwinder (`use = "unwind"`): every thread's stack, symbolized. The
// crashing thread comes first and starts at the faulting instruction.

import TracerKit

/// Unwinds and symbolizes every thread of the snapshot.
public struct UnwindTracer: Tracer {
    public let name = "unwind"
    public var maxFrames: Int

    public init(maxFrames: Int = RemoteUnwinder.defaultMaxFrames) { self.maxFrames = maxFrames }

    public func run(snapshot: ProcessSnapshot, report: inout CrashReport, deadline: Deadline) {
        let unwinder = RemoteUnwinder(snapshot: snapshot)
        let symbolizer = Symbolizer(modules: snapshot.modules)
        for thread in snapshot.threads {
            var threadReport = ThreadReport(tid: thread.tid, name: thread.name, isCrashing: thread.isCrashing,
                                            registers: thread.unwindStart)
            if deadline.hasExpired {
                threadReport.unwindStop = "not unwound: the deadline passed"
            } else if let start = thread.unwindStart {
                let stack = unwinder.unwind(from: start, startRecovery: thread.faultRegisters != nil ? .faultContext : .stopped,
                                            maxFrames: maxFrames, deadline: deadline)
                threadReport.frames = symbolizer.symbolize(stack.frames)
                threadReport.unwindStop = stack.stopReason
            } else {
                threadReport.unwindStop = "not unwound: its registers could not be read"
            }
            report.threads.append(threadReport)
        }
    }
}
