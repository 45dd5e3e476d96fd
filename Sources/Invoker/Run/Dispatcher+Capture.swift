// Dispatcher+Capture: the stopped window. Reads what Process Status needs before stopping the
// target, attaches (a live target: a batch of threads at a time, each released once its registers
// and stacks are copied), takes the LiveProcessSnapshot, classifies the fault, and runs each built-in's
// stage in chain order: each returns its product (UnwoundStacks, CapturedVariables, a section)
// into the CaptureRecord; none sees another's output except as a parameter (the variables stage
// takes the unwound stacks). The crash-loop check runs right after the unwinder when an expensive
// stage or an external tracer would follow. In a crash, what needs no tracer (the collectors, the
// crash guard's pre-rendered report, thread names, the module list) runs on a second thread
// alongside the unwinder (WindowCompanion) and is filed in chain order once joined. Then the
// target is released (PtraceSession.detach); the unwinder's finish (symbolizing) runs after
// that, from files only.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit
import Tracers

extension Dispatcher {
    /// Attaches, snapshots, runs the built-ins' stages and releases the target. The snapshot is
    /// nil when the target could not be stopped. `sections` come first in the report (a client's
    /// snapshot request). With `exitReleases` (the helper exits right after: a crash's early
    /// release) a crash's threads are left held, but for those only a PTRACE_DETACH releases as
    /// they were, and the session is returned: the exit releases them, or the caller must.
    func captureWithBuiltins(pid: Int32, fault: FaultContext?, mode: Mode, stages: [BuiltinStage],
                             deadline: Deadline, regain earlier: RootRegain = .notNeeded,
                             loopGuard: CrashLoopGuard? = nil, sections: [ReportSection] = [],
                             exitReleases: Bool = false) -> (CaptureRecord, LiveProcessSnapshot?, PtraceSession?) {
        var capture = CaptureRecord(pid: pid, executable: ProcFile.readLink("/proc/\(pid)/exe") ?? "?",
                                    hostTriplet: hostTriplet, time: Int(time(nil)), fault: fault, isSnapshot: mode == .live)
        capture.sections = sections
        // What was left out of the chain at start-up (a bad -t) is said where the reader looks.
        capture.problems += configuration.warnings.map { $0 + "." }
        if let configurationProblem {
            capture.problems.append("\(configurationProblem); the built-in chain ran instead.")
        }
        capture.problems += fault?.problems ?? []
        // What needs no tracer goes to a second thread (WindowCompanion), started now so that it
        // runs by the time every thread is stopped: the guard's report, the collectors, a share of
        // the unwinding; for a crash also the names and the module index, unless this thread reads
        // them before the join (a live snapshot reads them here, after its batches).
        let abort = fault?.signal?.number == SIGABRT  // its message is found through the module index
        let companion = WindowCompanion(
            dispatcher: self, stages: stages,
            namesAndModules: mode == .crash && loopGuard == nil && !abort && !stages.contains(where: \.isExpensive), deadline: deadline)
        // Read before stopping the target, so Process Status shows the state the server was in.
        capture.processName = ProcFile.readText("/proc/\(pid)/comm", limit: 64)?.trimmingWhitespace()
        capture.processStatus = ProcFile.readText("/proc/\(pid)/status", limit: 64 * 1024)
        capture.processLimits = ProcFile.readText("/proc/\(pid)/limits", limit: 64 * 1024)
        capture.memoryRegions = ProcFile.readText("/proc/\(pid)/maps", limit: 16 << 20)
        // Under traffic_manager we start with real uid 0 and effective uid trafficserver: the
        // attach needs root's capabilities back (TracerPrivileges).
        let regain = earlier == .notNeeded ? TracerPrivileges.regainRootIfPermitted() : earlier
        switch regain {
        case .notNeeded: break
        case .regained: capture.notes += regain.sentence.map { [$0] } ?? []
        case .refused: capture.problems += regain.sentence.map { [$0] } ?? []
        }
        let guardPath = toStandardOutput ? nil : ReportWriter.plannedTextPath(
            directory: outputDirectory, prefix: mode == .crash ? "crash" : "snapshot", time: capture.time)
        // What a crash of ours from the stop on leaves: the fault, its registers and the process.
        companion.render(capture, path: guardPath)
        let attachStart = Deadline.now()
        let snapshot: LiveProcessSnapshot
        let vanished: [Int32]
        // A crash's threads stay stopped until the stages are done (released by `defer`, or,
        // with `exitReleases`, handed back once the stages are done).
        var session: PtraceSession? = nil
        defer {
            if let session {
                session.detach()
                CrashGuard.hold([])
            }
        }
        if mode == .live {
            // A running process is stopped a batch of threads at a time, each batch only while
            // its registers and stacks are copied: no worker stalls for the whole capture.
            do {
                let batched = try LiveProcessSnapshot.captureInBatches(
                    pid: pid, deadline: deadline, stopTimeout: configuration.stopTimeout,
                    vectorRegisters: stages.contains(where: \.readsVectorRegisters), stackCopyLimit: configuration.stackCopyLimit,
                    hold: { CrashGuard.hold($0) })
                snapshot = batched.snapshot
                vanished = batched.vanishedThreads
                companion.beginAfterBatches()
                capture.notes.append("stopped \(snapshot.threads.count) threads \(LiveProcessSnapshot.liveBatchSize) at a time (\(batched.batches) batch\(batched.batches == 1 ? "" : "es")), each batch released once its registers and stacks were copied")
                capture.notes.append("registers, maps and \(snapshot.copiedStackBytes / 1024) KiB of stacks copied in \(Deadline.millisecondsSince(attachStart)) ms"
                                     + (snapshot.stackCopyCut.map { " (\($0))" } ?? ""))
                capture.runs.append(TracerRun(name: "freeze", seconds: batched.longestStop,
                                              outcome: "threads stopped \(LiveProcessSnapshot.liveBatchSize) at a time while their registers and stacks were copied (the longest stop)"))
            } catch {
                companion.abandon()
                logger.error("\(error.description)")
                capture.problems.append(error.description)
                return (capture, nil, nil)
            }
        } else {
            let held: PtraceSession
            do {
                held = try PtraceSession.attach(pid: pid, deadline: deadline, stopTimeout: configuration.stopTimeout)
            } catch {
                companion.abandon()
                logger.error("\(error.description)")
                capture.problems.append(error.description)
                return (capture, nil, nil)
            }
            session = held
            CrashGuard.hold(held.threads.map(\.tid))
            capture.notes.append("stopped \(held.threads.count) threads in \(Deadline.millisecondsSince(attachStart)) ms")
            companion.begin(with: held)
            let snapshotStart = Deadline.now()
            snapshot = LiveProcessSnapshot.capture(session: held, fault: fault,
                                                   vectorRegisters: stages.contains(where: \.readsVectorRegisters),
                                                   stackCopyLimit: configuration.stackCopyLimit)
            capture.notes.append("registers, maps and \(snapshot.copiedStackBytes / 1024) KiB of stacks copied in \(Deadline.millisecondsSince(snapshotStart)) ms"
                                 + (snapshot.stackCopyCut.map { " (\($0))" } ?? ""))
            vanished = held.vanishedThreads
        }
        if !companion.namesAndModules { snapshot.readThreadNames() }
        capture.fault = snapshot.fault
        capture.executable = snapshot.executable
        capture.commandLine = snapshot.commandLine
        if !vanished.isEmpty {
            capture.problems.append("Threads \(vanished.map(String.init).joined(separator: ", ")) exited while the target was being stopped.")
        }
        companion.hand(snapshot)
        // Classified before the stages run: the crash-loop check needs the fault kind.
        capture.fault?.classification = Self.classification(of: snapshot)
        let runsBefore = capture.runs.count
        let (mainRuns, reached) = runStages(stages, on: snapshot, into: &capture, deadline: deadline, loopGuard: loopGuard,
                                            skipping: WindowCompanion.runs, offerUnwinding: { companion.offer($0) })
        companion.finish(into: &capture, snapshot: snapshot, runsBefore: runsBefore, mainRuns: mainRuns, reached: reached)
        if !companion.namesAndModules {
            // The module list comes from /proc/PID/maps: take it while the target surely exists.
            let modulesStart = Deadline.now()
            capture.modules = snapshot.modules?.modules ?? []
            capture.notes.append("\(capture.modules.count) modules listed in \(Deadline.millisecondsSince(modulesStart)) ms")
        }
        capture.problems += snapshot.problems
        guard exitReleases, let held = session else { return (capture, snapshot, nil) }
        held.detachWhatExitWouldNot()
        session = nil  // not detached by `defer`: the caller's exit (or the caller) releases them
        return (capture, snapshot, held)
    }

    /// The fault's classification (kind, sentence) from the snapshot's signal, registers, maps
    /// and, for SIGABRT, glibc's abort message; nil without a signal.
    static func classification(of snapshot: any ProcessSnapshot) -> FaultClassification? {
        guard let signal = snapshot.fault?.signal else { return nil }
        return FaultClassifier.classify(
            signal: signal, registers: snapshot.fault?.registers, mappings: snapshot.mappings,
            abortMessage: signal.number == SIGABRT ? snapshot.abortMessage() : nil, targetPID: snapshot.pid,
            senderName: signal.wasSentByProcess
                ? ProcFile.readText("/proc/\(signal.senderPID)/comm", limit: 64)?.trimmingWhitespace() : nil)
    }

    /// Runs each built-in's capture stage in chain order, filing its product and its sentences in
    /// `capture`. After the unwinder, `loopGuard` (when given) may find a crash loop: the stages
    /// after it are then skipped. Stages for which `skipping` is true are left out (another thread
    /// runs them); `offerUnwinding` hands the unwinder's threads to share to a helper on another
    /// thread. Returns the chain index of each Capture Timing run it appended, and how many
    /// of the stages the chain reached (all, unless a crash loop cut it short).
    @discardableResult
    func runStages(_ stages: [BuiltinStage], on snapshot: any ProcessSnapshot, into capture: inout CaptureRecord,
                   deadline: Deadline, loopGuard: CrashLoopGuard? = nil,
                   skipping: (BuiltinStage) -> Bool = { _ in false },
                   offerUnwinding: ((UnwindShare) -> Void)? = nil) -> (runs: [Int], reached: Int) {
        let context = CollectorContext(outputDirectory: outputDirectory.path, deadline: deadline)
        var runs: [Int] = []
        for (index, stage) in stages.enumerated() {
            if skipping(stage) { continue }
            let started = Deadline.now()
            CrashGuard.stage("capturing with a built-in tracer (unwinding the stacks, reading variables)")
            CrashGuard.injectFaultIfAsked(before: stage.name)
            switch stage {
            case .unwind(var unwinder):
                unwinder.recordsRegisters = stages.contains(where: \.readsFrameRegisters)
                let stacks = unwinder.capture(snapshot: snapshot, deadline: deadline, offer: offerUnwinding)
                capture.file(stacks.remarks)
                capture.stacks = stacks
            case .variables(let reader):
                // The loader refuses a chain without the unwinder before this stage (BuiltinEntry.needs);
                // a chain made in code that lacks it gets the sentence, not an empty result.
                guard let stacks = capture.stacks else {
                    capture.problems.append("Not run, no unwinder ran before it: \(stage.name).")
                    continue
                }
                let variables = reader.capture(snapshot: snapshot, stacks: stacks, deadline: deadline)
                capture.file(variables.remarks)
                capture.variables = variables
            case .collector(let collector):
                capture.sections.append(collector.collect(from: snapshot, context: context))
            }
            capture.runs.append(TracerRun(name: stage.name, seconds: Deadline.now().seconds(since: started),
                                          outcome: deadline.hasExpired ? "stopped at the deadline" : "completed"))
            runs.append(index)
            guard case .unwind = stage, let loopGuard else { continue }
            let checkStart = Deadline.now()
            switch loopGuard.verdict(on: capture, modules: snapshot.modules) {
            case .notLooping: break
            case .unknown(let problem): capture.problems.append(problem)
            case .looping(let fingerprint, let occurrence):
                capture.loop = (fingerprint, occurrence)
                let skipped = stages[(index + 1)...].map(\.name)
                if !skipped.isEmpty {
                    capture.problems.append("Not run, this crash is in a crash loop: \(skipped.joined(separator: ", ")).")
                }
                capture.notes.append("crash-loop check (fingerprint and store query) in \(Deadline.millisecondsSince(checkStart)) ms")
                return (runs, index + 1)
            }
        }
        return (runs, stages.count)
    }

    /// After the release: the unwinder's finish names the unwound frames (with their variables
    /// on them) from the modules' files. Nil when the chain has no unwinder.
    func finishStages(_ stages: [BuiltinStage], capture: CaptureRecord, snapshot: any ProcessSnapshot,
                      deadline: Deadline) -> SymbolizedStacks? {
        for stage in stages {
            if case .unwind(let unwinder) = stage {
                return unwinder.finish(capture.unwoundThreads, modules: snapshot.modules, deadline: deadline)
            }
        }
        return nil
    }
}
