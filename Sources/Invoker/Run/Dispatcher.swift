// Dispatcher: runs the configured chain against one target and writes the report.
//
//   attach ─► snapshot ─► built-ins' stages, in chain order (sharing the one session), each
//             returning its product into a CaptureRecord (Dispatcher+Capture) ─► detach
//          ─► [crash, no external tracers: fork (EarlyRelease); the parent exits, so the server's
//              waitpid returns and it finishes dying while the child completes the report; the
//              parent's exit is what detaches the server's threads then]
//          ─► the unwinder's finish (symbolizing: files only) ─► ReportAssembler makes the report
//          ─► early report written (so a hung external tracer cannot cost us the stacks)
//          ─► external tracers, in order, each bounded ─► final report replaces the early one
//          ─► [crash: the crash store's index and pruning (ReportIndexer), the server released first]
//          ─► [Sentry configured: once the server is released, the envelope goes to the outbox, then out]
//          ─► [crash, [[notify]] configured: invoker notify, exec'd in place of this process]
//
// Crash-loop protection (CrashLoopGuard) fingerprints the crash and asks the store how its group
// stands: during the downtime right after the unwinder when an expensive tracer would follow (a
// loop then skips them, and the external tracers too), else after symbolizing.
// A live snapshot releases the target right after the snapshot (stacks and registers are copied),
// so the server is frozen only for the copy; a crash keeps it stopped while the built-ins read it.
// Everything is bounded by one deadline. The target is released on every path: PtraceSession
// detaches on error and in deinit, and the kernel detaches whatever a dying helper held.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import TracerKit
import Tracers

struct Dispatcher {
    enum Mode {
        /// The target crashed and waits for us in its signal handler.
        case crash
        /// A running process: stop it as briefly as possible, then let it go on.
        case live
    }

    let configuration: Configuration
    let outputDirectory: LogDirectory
    /// The user Traffic Server passed with --user; external tracers run as this user by default.
    let serverUser: String?
    let hostTriplet: String?
    /// Write the text report to standard output instead of a file (--debug).
    let toStandardOutput: Bool
    let logger: Logger
    /// Why the configuration file was not used (the built-in chain ran instead), for the report.
    var configurationProblem: String? = nil

    /// Runs the chain on `pid` and returns the exit status for the helper.
    /// `regain` is what the caller already did about our effective uid (CrashHelper does it
    /// before any thread starts); otherwise it is done before attaching. `start` is when the run's
    /// deadline began (for a crash: when the server spoke). `sections` go into the report first
    /// (a client's snapshot request and its reason).
    /// It runs on the caller's executor (nonsending): the crash helper calls it on the main
    /// thread, so the stop, the capture and the release start no concurrency worker threads.
    nonisolated(nonsending) func run(pid: Int32, fault: FaultContext?, mode: Mode, regain: RootRegain = .notNeeded,
             start: Deadline = .now(), sections: [ReportSection] = []) async -> Int32 {
        let deadline = start.adding(seconds: configuration.deadline)
        CrashGuard.install()
        // Before any module index exists: libdwfl then finds the uncompressed copies first.
        let (debugInfoCache, cacheProblem) = activateDebugInfoCache()
        var externals = externalSpecs()
        let loopGuard = CrashLoopGuard(directory: outputDirectory.path, settings: configuration.store,
                                       usesStore: mode == .crash && !toStandardOutput && configuration.store.enabled, logger: logger)
        let stages = configuration.builtinStages
        let expensive = !externals.isEmpty || stages.contains(where: \.isExpensive)
        // With nothing after the built-ins that needs the server, the helper exits right after
        // them (early release, below): its exit releases the threads, not a PTRACE_DETACH each.
        let releasesEarly = mode == .crash && externals.isEmpty && !toStandardOutput && configuration.earlyRelease
        var (capture, snapshot, held) = captureWithBuiltins(pid: pid, fault: fault, mode: mode, stages: stages, deadline: deadline,
                                                            regain: regain, loopGuard: expensive ? loopGuard : nil, sections: sections,
                                                            exitReleases: releasesEarly)
        if capture.loop != nil, !externals.isEmpty {
            capture.problems.append("Not run, this crash is in a crash loop: \(externals.map(\.name).joined(separator: ", ")).")
            externals = []
        }
        var released = false
        if let cacheProblem { capture.problems.append("Debug-info cache: \(cacheProblem).") }
        // Nothing left needs the server: let it go now and finish the report on our own time.
        if mode == .crash && externals.isEmpty && !toStandardOutput && configuration.earlyRelease {
            capture.notes.append("the server was released after \(Deadline.millisecondsSince(start)) ms; the report was completed after that")
            let side = EarlyRelease.detachFromServer(exitingWith: ExitStatus.of(threads: capture.unwoundThreads, written: true).rawValue)
            // The parent's exit released the threads it held; a child traces nothing.
            if side == .child {
                held?.disown()
                CrashGuard.hold([])
            }
            released = side == .child
        }
        // Not released by an exit after all (no child could be made): release them now.
        if let held {
            held.detach()
            CrashGuard.hold([])
        }
        held = nil
        let writer = ReportWriter(directory: outputDirectory, formats: configuration.formats,
                                  retention: configuration.retention, prefix: mode == .crash ? "crash" : "snapshot",
                                  time: capture.time, logger: logger, layout: configuration.logLayout,
                                  groupThreads: configuration.groupThreads)
        let guardPath = toStandardOutput ? nil : writer.plannedTextPath
        var symbolized: SymbolizedStacks? = nil
        if let snapshot {
            // The stacks are unwound (not yet named): what a crash of ours while symbolizing leaves.
            CrashGuard.keep(ReportAssembler.assemble(capture), path: guardPath, layout: configuration.logLayout,
                            groupThreads: configuration.groupThreads)
            CrashGuard.stage("symbolizing the stacks (reading the modules' ELF and DWARF files)")
            symbolized = finishStages(stages, capture: capture, snapshot: snapshot, deadline: deadline)
        }
        let debugFiles = snapshot?.modules?.openedDebugFiles() ?? []
        if let debugInfoCache, !debugFiles.isEmpty {
            capture.notes.append("\(debugFiles.count) separate debug files read, \(debugFiles.filter { debugInfoCache.holds($0.path) }.count) of them from the debug-info cache")
        }
        // Done with the snapshot: its module index holds every module's file open, and the
        // writers need descriptors of their own (a server started with RLIMIT_NOFILE 12 has few).
        snapshot = nil
        var report = ReportAssembler.assemble(capture, symbolized: symbolized)
        // After the release: with external tracers the server waits for them, so then after those.
        if externals.isEmpty { addTrafficServerDetails(to: &report, deadline: deadline) }
        loopGuard.assess(report: &report)
        // Early write: the stacks are on disk before any external program runs.
        var location: ReportLocation? = nil
        let redactor = self.redactor
        report.redact(with: redactor)
        if !toStandardOutput && !externals.isEmpty {
            location = writer.writeEarly(report)
        }
        if location != nil { CrashGuard.withdraw() } else { CrashGuard.keep(report, path: guardPath, layout: configuration.logLayout, groupThreads: configuration.groupThreads) }
        CrashGuard.stage("running the external tracers and writing the report")
        let values = PlaceholderValues(
            pid: pid, tid: report.fault?.crashingThread ?? pid, signal: report.fault?.signal?.number ?? 0,
            executable: report.executable, outputDirectory: outputDirectory.path,
            reportPath: location?.reportPath ?? (toStandardOutput ? "" : writer.plannedReportPath))
        await runExternals(externals, values: values, report: &report, deadline: deadline)
        if !externals.isEmpty { addTrafficServerDetails(to: &report, deadline: deadline) }
        report.tracerRuns.insert(TracerRun(name: "invoker", seconds: Deadline.now().seconds(since: start),
                                           outcome: "capture finished"), at: 0)
        report.redact(with: redactor)
        if toStandardOutput {
            CrashGuard.withdraw()
            print(writer.render(.text, report), terminator: "")
            return ExitStatus.of(report, written: true).rawValue
        }
        let written = writer.writeFinal(report, replacing: location)
        CrashGuard.withdraw()
        let status = ExitStatus.of(report, written: written != nil).rawValue
        // The store's step forks first when the server still waits for us, so neither it, Sentry
        // (which then does not fork again) nor the notifiers lengthen the downtime.
        if mode == .crash, let written, configuration.store.enabled || !configuration.notifiers.isEmpty {
            released = releaseAndIndex(report, at: written, released: released)
        }
        // Only once the server no longer waits for us (a crash's early release, or a snapshot).
        if let debugInfoCache, mode == .live || released {
            fillDebugInfoCache(debugInfoCache, with: debugFiles, limit: configuration.debugInfoCacheLimit)
        }
        SentryForwarder.forwardAfterFinalReport(report, kind: writer.prefix, baseName: writer.baseName, directory: outputDirectory.path,
                                                configuration: configuration, serverPID: pid, logger: logger, exitStatus: status)
        if mode == .crash, let written, !configuration.notifiers.isEmpty {
            logger.error("\(NotifyCommand.exec(configuration.notifiers, report: report, location: written, outputDirectory: outputDirectory.path))")
        }
        if released { Self.endChild(status) }
        return status
    }

    /// The crash store's step, outside the server's downtime: when the server still waits for us
    /// (external tracers ran), fork first so it is let go. Returns whether this is a forked child.
    private func releaseAndIndex(_ report: CrashReport, at location: ReportLocation, released: Bool) -> Bool {
        var child = released
        if !released, configuration.earlyRelease {
            let side = EarlyRelease.detachFromServer()
            if side == .parent { _exit(0) }
            child = side == .child
        }
        if configuration.store.enabled {
            let indexer = ReportIndexer(directory: outputDirectory.path, settings: configuration.store, logger: logger)
            indexer.index(report, at: location, now: Int(time(nil)))
        }
        return child
    }

    /// Ends the forked child at once. Only the forking thread lives on in it, so nothing would
    /// end the process when another thread started since (GRDB's queue starts one) never ends.
    private static func endChild(_ status: Int32) -> Never {
        _exit(status)
    }

    /// For a traffic_server: its version (from its binary) and, under traffic_manager, its
    /// configuration records (from traffic_manager). Both after the server is released: they
    /// cost it no downtime.
    func addTrafficServerDetails(to report: inout CrashReport, deadline: Deadline) {
        guard TrafficServerVersion.isTrafficServer(report.executable) else { return }
        let started = Deadline.now()
        report.serverVersion = TrafficServerVersion.read(binary: report.executable)
        let parent = report.processStatus.flatMap { ProcFile.field("PPid", in: $0) }.flatMap { Int32($0) }
        let records = TrafficServerRecords(executable: report.executable, commandLine: report.commandLine, parentPID: parent)
        switch records.read(deadline: deadline) {
        case .records(let lines):
            report.configurationRecords = lines
            report.notes.append("\(lines.count) configuration records read from traffic_manager in \(Deadline.millisecondsSince(started)) ms")
        case .absent(let reason):
            report.notes.append("no Traffic Server Configuration Records: \(reason)")
        }
    }

}
