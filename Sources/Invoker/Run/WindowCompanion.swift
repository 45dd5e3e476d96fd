// WindowCompanion: the work of a crash's stopped window that needs no tracer, done on a second
// thread (the machine's other core) while the main thread, which attached and alone may make
// ptrace requests, copies the registers and stacks and unwinds them. Started as soon as every
// thread is stopped: it reads the threads' names and opens the module index (libdwfl) while the
// main thread copies; then, handed the snapshot, renders the crash guard's report (what a crash of
// ours would leave) and runs the collectors' stages in chain order (they read only the snapshot's
// captured values and /proc) while the main thread unwinds. Joined before the report is
// assembled; its products are filed into the CaptureRecord where the serial run put them
// (sections and Capture Timing runs in chain order), so the report reads the same.
//
// Nothing it touches is touched by the main thread until the join: the snapshot's threads are
// only read (their names are applied after the join), the module index it opens is given to the
// snapshot after the join and is opened here only when nothing on the main thread reads modules
// first (an abort's message, the variables stage, the crash-loop check), and the page cache (not
// thread-safe) is never read here. A crash of this thread is relayed by the crash guard to the
// main thread, which releases the target (crash_guard.c).

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import TracerKit
import Tracers

struct WindowCompanion {
    /// What the second thread produced.
    struct Products {
        /// Each collector's section and Capture Timing run, by the stage's index in the chain.
        var collected: [Int: (section: ReportSection, run: TracerRun)] = [:]
        /// The threads' names by thread id; nil when the main thread reads them.
        var threadNames: [Int32: String]?
        /// The module index and how long opening it took; nil when the main thread opens it.
        var modules: (index: ModuleIndex?, milliseconds: String)?
        /// How long the companion waited for the snapshot.
        var waitedForSnapshot = 0.0
        /// When the thread finished its work.
        var finished = Deadline.now()
    }

    /// What the main thread hands over once the snapshot is copied.
    struct Handover {
        var snapshot: LiveProcessSnapshot
        /// The capture so far: the crash guard's report is rendered from it.
        var guardReport: CaptureRecord
        var guardPath: String?
    }

    private let thread: JoinableThread<Products>
    private let handoff = Handoff<Handover>()
    /// When it was started.
    let started: Deadline
    /// Whether it reads the threads' names and opens the module index (else the main thread does).
    let namesAndModules: Bool

    /// Starts the companion on the threads `session` holds, for `stages`. `namesAndModules` is
    /// false when the main thread needs the names or the module index before the join.
    init(dispatcher: Dispatcher, session: PtraceSession, stages: [BuiltinStage], namesAndModules: Bool, deadline: Deadline) {
        started = Deadline.now()
        self.namesAndModules = namesAndModules
        let context = CollectorContext(outputDirectory: dispatcher.outputDirectory.path, deadline: deadline)
        let configuration = dispatcher.configuration
        let handoff = handoff
        let pid = session.pid
        let tids = session.threads.map(\.tid)
        let addressSpace = LiveProcessSnapshot.addressSpaceThread(of: session)
        // A crash of the main thread before the report below is rendered waits for it.
        ivk_guard_expect_report()
        thread = JoinableThread {
            ivk_guard_protect_this_thread()
            var products = Products()
            if namesAndModules {
                CrashGuard.stage("reading thread names and listing the modules on the second thread")
                products.threadNames = Dictionary(zip(tids, ProcFile.threadNames(pid: pid, tids: tids)),
                                                  uniquingKeysWith: { first, _ in first })
                let modulesStart = Deadline.now()
                products.modules = (ModuleIndex(pid: addressSpace), Deadline.millisecondsSince(modulesStart))
            }
            let waitStart = Deadline.now()
            let handover = handoff.take()
            products.waitedForSnapshot = Deadline.now().seconds(since: waitStart)
            CrashGuard.stage("rendering the crash guard's report on the second thread")
            CrashGuard.keep(ReportAssembler.assemble(handover.guardReport), path: handover.guardPath,
                            layout: configuration.logLayout, groupThreads: configuration.groupThreads)
            CrashGuard.stage("running the collectors on the second thread (alongside the unwinder)")
            for (index, stage) in stages.enumerated() {
                guard case .collector(let collector) = stage else { continue }
                let stageStart = Deadline.now()
                CrashGuard.injectFaultIfAsked(before: stage.name)
                let section = collector.collect(from: handover.snapshot, context: context)
                products.collected[index] = (section, TracerRun(name: stage.name, seconds: Deadline.now().seconds(since: stageStart),
                                                                outcome: deadline.hasExpired ? "stopped at the deadline" : "completed"))
            }
            products.finished = Deadline.now()
            return products
        }
    }

    /// Whether the companion runs `stage` (the main thread skips it).
    static func runs(_ stage: BuiltinStage) -> Bool {
        if case .collector = stage { true } else { false }
    }

    /// Hands the copied snapshot over: the companion renders the crash guard's report from
    /// `guardReport` and runs the collectors.
    func hand(_ snapshot: LiveProcessSnapshot, guardReport: CaptureRecord, guardPath: String?) {
        handoff.give(Handover(snapshot: snapshot, guardReport: guardReport, guardPath: guardPath))
    }

    /// Waits for the companion and files its products into `capture`: each collector's section and
    /// run where the chain puts it among the main thread's runs (`mainRuns`: the stage index of each
    /// run the main thread appended since `runsBefore`; `reached`: the stages the chain got to,
    /// fewer after a crash loop), the names into the snapshot and the unwound stacks, the module
    /// index into the snapshot and its list into `capture`.
    func finish(into capture: inout CaptureRecord, snapshot: LiveProcessSnapshot, runsBefore: Int,
                mainRuns: [Int], reached: Int) {
        let waitStart = Deadline.now()
        let products = thread.join()
        let waited = Deadline.millisecondsSince(waitStart)
        var byIndex: [Int: TracerRun] = [:]
        for (index, run) in zip(mainRuns, capture.runs[runsBefore...]) { byIndex[index] = run }
        capture.runs.removeSubrange(runsBefore...)
        for index in 0..<reached {
            if let run = byIndex[index] {
                capture.runs.append(run)
            } else if let (section, run) = products.collected[index] {
                capture.sections.append(section)
                capture.runs.append(run)
            }
        }
        if let names = products.threadNames {
            snapshot.applyThreadNames(names)
            if var stacks = capture.stacks {
                for index in stacks.threads.indices {
                    stacks.threads[index].name = names[stacks.threads[index].tid] ?? ""
                }
                capture.stacks = stacks
            }
        }
        if let (index, milliseconds) = products.modules {
            snapshot.adoptModules(index)
            capture.modules = index?.modules ?? []
            capture.notes.append("\(capture.modules.count) modules listed in \(milliseconds) ms")
        }
        let busy = products.finished.seconds(since: started) - products.waitedForSnapshot
        capture.notes.append("the collectors\(namesAndModules ? ", thread names, the module list" : "") and the crash guard's report on a second thread alongside the copy and the unwinder: \(Int((busy * 1000).rounded())) ms of work; waited \(waited) ms for it")
    }
}
