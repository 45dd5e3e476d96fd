// WindowCompanion: the work of a crash's stopped window that needs no tracer, done on a second
// thread (the machine's other core) while the main thread, which attached and alone may make
// ptrace requests, stops the threads, copies their registers and stacks and unwinds them. A live
// snapshot has one too (its caller waits for it, on a machine the target keeps busy): the guard's
// report during the batches, then the collectors and a share of the unwinding. Started
// before the attach (a new thread can take milliseconds to get a CPU on a busy machine): while
// the main thread stops the threads it renders the crash guard's report (what a crash of ours
// would leave: the fault, its registers and Process Status, read before the stop); handed the
// stopped threads, it reads their names and opens the module index (libdwfl) while the main thread
// copies; handed the snapshot, it runs the collectors' stages in chain order (they read only the
// snapshot's captured values and /proc) while the main thread unwinds, and then takes its share of
// the threads still to unwind (UnwindShare, with an unwinder and a page-cache reader of its own).
// Nothing of the target is read on it before every thread is stopped. Joined before the report is
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
        /// Seconds of work (waits for the main thread left out).
        var busy = 0.0
    }

    /// What the crash guard's report is rendered from: the capture before the stop, and where
    /// the report would go.
    struct GuardReport {
        var capture: CaptureRecord
        var path: String?
    }

    /// How the target's threads were stopped, or that they were not.
    private enum Stop {
        /// A crash's: every thread held by the session (which the companion only reads).
        case held(PtraceSession)
        /// A live snapshot's: a batch at a time, each released once copied; nothing is held.
        case inBatches
        /// Nothing was stopped: nothing to do after the guard's report.
        case failed
    }

    private let thread: JoinableThread<Products>
    private let guardReport = Handoff<GuardReport>()
    private let stopped = Handoff<Stop>()
    private let copied = Handoff<LiveProcessSnapshot>()
    /// The unwind stage's threads to share (nil: no unwinding to help with).
    private let unwinding = Handoff<UnwindShare?>()
    /// Whether it reads the threads' names and opens the module index (else the main thread does).
    let namesAndModules: Bool

    /// Starts the companion for `stages`; it waits for `render(_:path:)`, then `begin(with:)`, then
    /// `hand(_:)`. `namesAndModules` is false when the main thread needs the names or the module
    /// index before the join.
    init(dispatcher: Dispatcher, stages: [BuiltinStage], namesAndModules: Bool, deadline: Deadline) {
        self.namesAndModules = namesAndModules
        let context = CollectorContext(outputDirectory: dispatcher.outputDirectory.path, deadline: deadline)
        let configuration = dispatcher.configuration
        let guardReport = guardReport, stopped = stopped, copied = copied, unwinding = unwinding
        thread = JoinableThread {
            var products = Products()
            ivk_guard_protect_this_thread()
            RuntimeWarmUp.captureConformances()
            let rendered = guardReport.take()
            var workStart = Deadline.now()
            CrashGuard.stage("rendering the crash guard's report on the second thread")
            CrashGuard.keep(ReportAssembler.assemble(rendered.capture), path: rendered.path,
                            layout: configuration.logLayout, groupThreads: configuration.groupThreads)
            products.busy += Deadline.now().seconds(since: workStart)
            let stop = stopped.take()
            if case .failed = stop { return products }
            workStart = Deadline.now()
            if namesAndModules, case .held(let session) = stop {
                CrashGuard.stage("reading thread names and listing the modules on the second thread")
                let tids = session.threads.map(\.tid)
                products.threadNames = Dictionary(zip(tids, ProcFile.threadNames(pid: session.pid, tids: tids)),
                                                  uniquingKeysWith: { first, _ in first })
                let modulesStart = Deadline.now()
                products.modules = (ModuleIndex(pid: LiveProcessSnapshot.addressSpaceThread(of: session)),
                                    Deadline.millisecondsSince(modulesStart))
            }
            products.busy += Deadline.now().seconds(since: workStart)
            let snapshot = copied.take()
            workStart = Deadline.now()
            CrashGuard.stage("running the collectors on the second thread (alongside the unwinder)")
            for (index, stage) in stages.enumerated() {
                guard case .collector(let collector) = stage else { continue }
                let stageStart = Deadline.now()
                CrashGuard.injectFaultIfAsked(before: stage.name)
                let section = collector.collect(from: snapshot, context: context)
                products.collected[index] = (section, TracerRun(name: stage.name, seconds: Deadline.now().seconds(since: stageStart),
                                                                outcome: deadline.hasExpired ? "stopped at the deadline" : "completed"))
            }
            products.busy += Deadline.now().seconds(since: workStart)
            if let share = unwinding.take() {
                CrashGuard.stage("unwinding stacks on the second thread")
                workStart = Deadline.now()
                share.help()
                products.busy += Deadline.now().seconds(since: workStart)
            }
            return products
        }
    }

    /// Whether the companion runs `stage` (the main thread skips it).
    static func runs(_ stage: BuiltinStage) -> Bool {
        if case .collector = stage { true } else { false }
    }

    /// The crash guard's report is rendered from `capture` (what was read before the stop) and
    /// published for `path`. (A crash of the main thread before it is published waits for it.)
    func render(_ capture: CaptureRecord, path: String?) {
        ivk_guard_expect_report()
        guardReport.give(GuardReport(capture: capture, path: path))
    }

    /// Every thread of the target is stopped (held by `session`, which the companion only reads).
    func begin(with session: PtraceSession) { stopped.give(.held(session)) }

    /// A live snapshot's threads were stopped and copied a batch at a time (the main thread reads
    /// the names and the modules: `namesAndModules` is false for it).
    func beginAfterBatches() { stopped.give(.inBatches) }

    /// Nothing was stopped: the companion ends after the report it renders.
    func abandon() {
        stopped.give(.failed)
        _ = thread.join()
    }

    /// Hands the copied snapshot over: the companion runs the collectors on it.
    func hand(_ snapshot: LiveProcessSnapshot) { copied.give(snapshot) }

    /// Offers the unwind stage's threads: the companion takes its share once its own work is done.
    func offer(_ share: UnwindShare) { unwinding.give(share) }

    /// Waits for the companion and files its products into `capture`: each collector's section and
    /// run where the chain puts it among the main thread's runs (`mainRuns`: the stage index of each
    /// run the main thread appended since `runsBefore`; `reached`: the stages the chain got to,
    /// fewer after a crash loop), the names into the snapshot and the unwound stacks, the module
    /// index into the snapshot and its list into `capture`.
    func finish(into capture: inout CaptureRecord, snapshot: LiveProcessSnapshot, runsBefore: Int,
                mainRuns: [Int], reached: Int) {
        unwinding.give(nil)  // nothing more to help with (ignored if a share was offered)
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
        capture.notes.append("the collectors\(namesAndModules ? ", thread names, the module list" : "") and the crash guard's report on a second thread alongside the copy and the unwinder: \(Int((products.busy * 1000).rounded())) ms of work; waited \(waited) ms for it")
    }
}
