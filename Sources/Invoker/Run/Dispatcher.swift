// Dispatcher: runs the configured chain against one target and writes the report.
//
//   attach ─► snapshot ─► built-in tracers' capture (sharing the one session) ─► detach
//          ─► [crash, no external tracers: fork; the parent exits, so the server's waitpid
//              returns and it finishes dying while the child completes the report]
//          ─► built-in tracers' finish (symbolizing: files only)
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
        var externals = externalSpecs()
        let loopGuard = CrashLoopGuard(directory: outputDirectory.path, settings: configuration.store,
                                       usesStore: mode == .crash && !toStandardOutput && configuration.store.enabled, logger: logger)
        let builtins = configuration.tracers.compactMap { spec -> (any Tracer)? in
            if case .builtin(let builtin) = spec { return BuiltinTracers.make(builtin, outputDirectory: outputDirectory.path) }
            return nil
        }
        let expensive = !externals.isEmpty || builtins.contains { $0 is VariablesTracer }
        var (report, snapshot) = captureWithBuiltins(pid: pid, fault: fault, mode: mode, builtins: builtins,
                                                     deadline: deadline, regain: regain, loopGuard: expensive ? loopGuard : nil)
        if report.occurrence?.compact == true, !externals.isEmpty {
            report.problems.append("Not run, this crash is in a crash loop: \(externals.map(\.name).joined(separator: ", ")).")
            externals = []
        }
        var released = false
        report.sections.insert(contentsOf: sections, at: 0)
        // Nothing left needs the server: let it go now and finish the report on our own time.
        if mode == .crash && externals.isEmpty && !toStandardOutput && configuration.earlyRelease {
            report.notes.append("the server was released after \(Deadline.millisecondsSince(start)) ms; the report was completed after that")
            let side = EarlyRelease.detachFromServer()
            if side == .parent { _exit(ExitStatus.of(report, written: true).rawValue) }
            released = side == .child
        }
        let writer = ReportWriter(directory: outputDirectory, formats: configuration.formats,
                                  retention: configuration.retention, prefix: mode == .crash ? "crash" : "snapshot",
                                  time: report.time, logger: logger, layout: configuration.logLayout,
                                  groupThreads: configuration.groupThreads)
        let guardPath = toStandardOutput ? nil : writer.plannedTextPath
        if let snapshot {
            // The stacks are unwound (not yet named): what a crash of ours while symbolizing leaves.
            CrashGuard.keep(report, path: guardPath, layout: configuration.logLayout, groupThreads: configuration.groupThreads)
            CrashGuard.stage("symbolizing the stacks (reading the modules' ELF and DWARF files)")
            for tracer in builtins {
                tracer.finish(snapshot: snapshot, report: &report, deadline: deadline)
            }
        }
        // Done with the snapshot: its module index holds every module's file open, and the
        // writers need descriptors of their own (a server started with RLIMIT_NOFILE 12 has few).
        snapshot = nil
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
            print(CrashLogWriter(report: report, helperVersion: InvokerCommand.version, layout: configuration.logLayout,
                                 groupThreads: configuration.groupThreads).render(),
                  terminator: "")
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

    /// Attaches, snapshots, runs the built-in tracers' capture and releases the target. The
    /// snapshot is nil when the target could not be stopped.
    func captureWithBuiltins(pid: Int32, fault: FaultContext?, mode: Mode, builtins: [any Tracer],
                             deadline: Deadline, regain earlier: RootRegain = .notNeeded,
                             loopGuard: CrashLoopGuard? = nil) -> (CrashReport, ProcessSnapshot?) {
        var report = CrashReport(pid: pid, executable: ProcFile.readLink("/proc/\(pid)/exe") ?? "?", commandLine: [],
                                 hostTriplet: hostTriplet, time: Int(time(nil)), fault: fault)
        report.isSnapshot = mode == .live
        // What was left out of the chain at start-up (a bad -t) is said where the reader looks.
        report.problems += configuration.warnings.map { $0 + "." }
        if let configurationProblem {
            report.problems.append("\(configurationProblem); the built-in chain ran instead.")
        }
        report.problems += fault?.problems ?? []
        // Read before stopping the target, so Process Status shows the state the server was in.
        report.processName = ProcFile.readText("/proc/\(pid)/comm", limit: 64)?.trimmingWhitespace()
        report.processStatus = ProcFile.readText("/proc/\(pid)/status", limit: 64 * 1024)
        report.processLimits = ProcFile.readText("/proc/\(pid)/limits", limit: 64 * 1024)
        report.memoryRegions = ProcFile.readText("/proc/\(pid)/maps", limit: 16 << 20)
        // Under traffic_manager we start with real uid 0 and effective uid trafficserver: the
        // attach needs root's capabilities back (TracerPrivileges).
        let regain = earlier == .notNeeded ? TracerPrivileges.regainRootIfPermitted() : earlier
        switch regain {
        case .notNeeded: break
        case .regained: report.notes += regain.sentence.map { [$0] } ?? []
        case .refused: report.problems += regain.sentence.map { [$0] } ?? []
        }
        let session: PtraceSession
        let attachStart = Deadline.now()
        do {
            session = try PtraceSession.attach(pid: pid, deadline: deadline, stopTimeout: configuration.stopTimeout)
        } catch {
            logger.error("\(error.description)")
            report.problems.append(error.description)
            return (report, nil)
        }
        CrashGuard.hold(session.threads.map(\.tid))
        defer {
            session.detach()
            CrashGuard.hold([])
        }
        report.notes.append("stopped \(session.threads.count) threads in \(Deadline.millisecondsSince(attachStart)) ms")
        let snapshotStart = Deadline.now()
        let snapshot = ProcessSnapshot.capture(session: session, fault: fault,
                                               vectorRegisters: builtins.contains { $0 is VariablesTracer },
                                               stackCopyLimit: configuration.stackCopyLimit)
        report.notes.append("registers, maps and \(snapshot.copiedStackBytes / 1024) KiB of stacks copied in \(Deadline.millisecondsSince(snapshotStart)) ms"
                            + (snapshot.stackCopyCut.map { " (\($0))" } ?? ""))
        if mode == .live {
            session.detach()
            report.tracerRuns.append(TracerRun(name: "freeze", seconds: Deadline.now().seconds(since: attachStart),
                                               outcome: "threads stopped while registers and stacks were copied"))
        }
        snapshot.readThreadNames()
        report.fault = snapshot.fault
        report.executable = snapshot.executable
        report.commandLine = snapshot.commandLine
        if !session.vanishedThreads.isEmpty {
            report.problems.append("Threads \(session.vanishedThreads.map(String.init).joined(separator: ", ")) exited while the target was being stopped.")
        }
        // What a crash of ours from here on leaves: the fault, the registers and the process.
        CrashGuard.keep(report, path: toStandardOutput ? nil : ReportWriter.plannedTextPath(
            directory: outputDirectory, prefix: mode == .crash ? "crash" : "snapshot", time: report.time),
            layout: configuration.logLayout, groupThreads: configuration.groupThreads)
        // Classified before the tracers run: the crash-loop check needs the fault kind.
        if let signal = report.fault?.signal {
            let classification = FaultClassifier.classify(
                signal: signal, registers: report.fault?.registers, mappings: snapshot.mappings,
                abortMessage: signal.number == SIGABRT ? snapshot.abortMessage() : nil, targetPID: pid,
                senderName: signal.wasSentByProcess
                    ? ProcFile.readText("/proc/\(signal.senderPID)/comm", limit: 64)?.trimmingWhitespace() : nil)
            report.fault?.classification = classification
        }
        for (index, tracer) in builtins.enumerated() {
            let started = Deadline.now()
            CrashGuard.stage("capturing with a built-in tracer (unwinding the stacks, reading variables)")
            CrashGuard.injectFaultIfAsked(before: tracer.name)
            tracer.capture(snapshot: snapshot, report: &report, deadline: deadline)
            report.tracerRuns.append(TracerRun(name: tracer.name, seconds: Deadline.now().seconds(since: started),
                                               outcome: deadline.hasExpired ? "stopped at the deadline" : "completed"))
            let checkStart = Deadline.now()
            if tracer is UnwindTracer, let loopGuard,
               loopGuard.isLooping(report: &report, snapshot: snapshot) {
                let skipped = builtins[(index + 1)...].map(\.name)
                if !skipped.isEmpty {
                    report.problems.append("Not run, this crash is in a crash loop: \(skipped.joined(separator: ", ")).")
                }
                report.notes.append("crash-loop check (fingerprint and store query) in \(Deadline.millisecondsSince(checkStart)) ms")
                break
            }
        }
        // The module list comes from /proc/PID/maps: take it while the target surely exists.
        let modulesStart = Deadline.now()
        report.modules = snapshot.modules?.modules ?? []
        report.notes.append("\(report.modules.count) modules listed in \(Deadline.millisecondsSince(modulesStart)) ms")
        report.problems += snapshot.problems
        return (report, snapshot)
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

    private func externalSpecs() -> [ExternalTracerSpec] {
        configuration.tracers.compactMap { spec in
            if case .external(let external) = spec { return external }
            return nil
        }
    }

    /// Runs the external tracers in order, applying the failure policy. On the caller's executor
    /// (nonsending), like `run`: after the early release's fork only the forking thread exists,
    /// and a hop to another executor there would wait for threads the child does not have.
    nonisolated(nonsending) private func runExternals(_ specs: [ExternalTracerSpec], values: PlaceholderValues, report: inout CrashReport,
                              deadline: Deadline) async {
        var warnedNotDumpable = false
        for (index, spec) in specs.enumerated() {
            if deadline.hasExpired {
                report.problems.append("Not run, the deadline had passed: \(specs[index...].map(\.name).joined(separator: ", ")).")
                return
            }
            var identity: UserIdentity? = nil
            // Traffic Server passes "#-1" when it keeps its own user: nothing to switch to.
            if let user = spec.user ?? serverUser, user != "#-1", getuid() == 0 {
                identity = UserIdentity.lookUp(user)
                if identity == nil {
                    // Never root in its place: a user that does not exist is not a reason to run as root.
                    let origin = spec.user == nil ? " (the user Traffic Server passed with --user)" : ""
                    skip(spec, "not run: user \(user)\(origin) does not exist, and a tracer never runs as root in its place", into: &report)
                    continue
                }
            }
            // Checked once more just before it runs (exec-tracer checks again and runs what it checked).
            if TrustedFile.enforced, let refusal = TrustedFile.check(values.expand(spec.command[0])), !refusal.isUnavailable {
                skip(spec, "not run: " + refusal.sentence("a tracer"), into: &report)
                continue
            }
            if let identity, identity.uid != 0, !warnedNotDumpable,
               let reason = Self.whyUserCannotTrace(values.pid, uid: identity.uid) {
                warnedNotDumpable = true
                report.problems.append("External tracers run as \(identity.name)\(spec.user == nil ? " (the user Traffic Server passed with --user)" : ""), but \(reason), so a tool that attaches to it (gdb, gcore, eu-stack) cannot as that user: set user = \"root\" on such tracers in invoker.conf.")
            }
            let tracer = ExternalTracer(name: spec.name, command: spec.command.map(values.expand), timeout: spec.timeout,
                                        identity: identity, environment: environment(for: spec),
                                        workingDirectory: spec.workingDirectory, outputLimit: configuration.maxOutputBytes,
                                        launcher: Self.tracerLauncher)
            let run = await tracer.run(deadline: deadline)
            report.tracerRuns.append(run)
            if let problem = Self.continueIfLeftStopped(values.pid, by: spec.name, outcome: run.outcome) {
                logger.warning("\(problem)")
                report.problems.append(problem)
            }
            if run.exitStatus != 0 {
                logger.warning("tracer \(spec.name) \(run.outcome)")
                if configuration.failurePolicy == .stop, index + 1 < specs.count {
                    report.problems.append("Not run, failure_policy is \"stop\" and \(spec.name) failed: \(specs[(index + 1)...].map(\.name).joined(separator: ", ")).")
                    return
                }
            }
        }
    }
}

extension Dispatcher {
    /// A tracer that is not run, said in the report and the log.
    private func skip(_ spec: ExternalTracerSpec, _ outcome: String, into report: inout CrashReport) {
        logger.error("tracer \(spec.name): \(outcome)")
        report.problems.append("Tracer \(spec.name) \(outcome).")
        report.tracerRuns.append(TracerRun(name: spec.name, command: spec.command, seconds: 0, outcome: outcome))
    }

    /// The tracer's whole environment: ours (the server's) as `inherit_env` says, then its `env`.
    func environment(for spec: ExternalTracerSpec) -> [String: String] {
        let ours = LogDirectory.currentEnvironment()
        var result: [String: String]
        switch spec.inheritEnvironment {
        case .all: result = ours
        case .sanitized: result = redactor.sanitizedEnvironment(ours)
        case .none: result = [:]
        }
        result.merge(spec.environment) { $1 }
        return result
    }

    /// The redaction rules of this configuration: the defaults plus every process tracer's `redact`.
    var redactor: Redactor {
        Redactor(extraNamePatterns: configuration.tracers.flatMap { spec -> [String] in
            if case .builtin(let builtin) = spec { return builtin.redact }
            return []
        })
    }

    /// External tracers start through our own `exec-tracer` subcommand (ExecTracerCommand):
    /// default signals, the user switch; /proc/self/exe is our binary even if it was replaced
    /// since we started.
    static let tracerLauncher = "/proc/self/exe"

    /// An external tracer that attaches (gdb, gcore) and is killed at its timeout, or dies, while
    /// the server's threads are in its SIGSTOP leaves the server in a job-control stop when the
    /// kernel detaches them: the server would then never finish dying (or, for a snapshot, never
    /// run again). The server was running when the tracer started, so a stop now is the tracer's
    /// doing: SIGCONT undoes it. Returns the sentence for the report when that happened.
    static func continueIfLeftStopped(_ pid: Int32, by tracer: String, outcome: String) -> String? {
        // Stopped, or about to be: a group stop reaches the threads one by one, and the SIGSTOP
        // that starts it is pending (shared, or a thread's) until one of them takes it, which
        // the kernel does under the same lock that marks that thread stopped.
        let stopSignal = UInt64(1) << UInt64(SIGSTOP - 1)
        func pending(_ path: String, _ field: String) -> Bool {
            ProcFile.readText(path, limit: 8192).flatMap { ProcFile.field(field, in: $0) }.flatMap { UInt64($0, radix: 16) }
                .map { $0 & stopSignal != 0 } ?? false
        }
        let threads = ProcFile.numericEntries(of: "/proc/\(pid)/task")
        let stopped = pending("/proc/\(pid)/status", "ShdPnd") || threads.contains { tid in
            ProcessSnapshot.threadState(pid: pid, tid: tid) == "T" || pending("/proc/\(pid)/task/\(tid)/status", "SigPnd")
        }
        guard stopped else { return nil }
        kill(pid, SIGCONT)
        return "Tracer \(tracer) left the server stopped (job control) when it ended (\(outcome)); invoker sent it SIGCONT."
    }

    /// Why a process of `uid` without capabilities may not ptrace `pid` (Linux's
    /// ptrace_may_access), or nil if it may: another user, capabilities the tracer lacks, or a
    /// process made non-dumpable by its change of user (/proc/PID then belongs to root).
    static func whyUserCannotTrace(_ pid: Int32, uid: UInt32) -> String? {
        guard let status = ProcFile.readText("/proc/\(pid)/status", limit: 8192),
              let uidLine = ProcFile.field("Uid", in: status) else { return nil }
        let uids = uidLine.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
        if uids.contains(where: { $0 != uid }) { return "the server runs as uid \(uids.first ?? 0)" }
        if let permitted = ProcFile.field("CapPrm", in: status), let caps = UInt64(permitted, radix: 16), caps != 0 {
            return "the server keeps capabilities (CapPrm \(permitted)) that user lacks"
        }
        var info = stat()
        if stat("/proc/\(pid)", &info) == 0, info.st_uid == 0 { return "the server is not dumpable" }
        return nil
    }
}

/// The built-in tracers by configuration name.
enum BuiltinTracers {
    static func make(_ spec: BuiltinTracerSpec, outputDirectory: String) -> any Tracer {
        switch spec.use {
        case "process":
            ProcessInfoTracer(redactPatterns: ProcessInfoTracer.defaultRedactPatterns + spec.redact, fullMaps: spec.fullMaps,
                              maxListedDescriptors: spec.maxDescriptors ?? 64)
        case "sysstats":
            SystemStatsTracer(outputDirectory: outputDirectory)
        case "variables":
            VariablesTracer(options: spec.variables)
        default:
            UnwindTracer(maxFrames: spec.maxFrames ?? RemoteUnwinder.defaultMaxFrames)
        }
    }
}
