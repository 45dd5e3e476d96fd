// Dispatcher+Externals: the external tracers of the chain (gdb, gcore, eu-stack, a vendor's tool),
// run after the target is released by ptrace: each in turn as its user, with its environment,
// bounded by its timeout and the deadline, and the failure policy applied; plus the redaction
// rules of the configuration.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import TracerKit
import Tracers

extension Dispatcher {
    func externalSpecs() -> [ExternalTracerSpec] {
        configuration.tracers.compactMap { spec in
            if case .external(let external) = spec { return external }
            return nil
        }
    }

    /// Runs the external tracers in order, applying the failure policy. On the caller's executor
    /// (nonsending), like `run`: after the early release's fork only the forking thread exists,
    /// and a hop to another executor there would wait for threads the child does not have.
    nonisolated(nonsending) func runExternals(_ specs: [ExternalTracerSpec], values: PlaceholderValues, report: inout CrashReport,
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
        Redactor(extraNamePatterns: configuration.builtinStages.flatMap(\.redactNamePatterns))
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
            LiveProcessSnapshot.threadState(pid: pid, tid: tid) == "T" || pending("/proc/\(pid)/task/\(tid)/status", "SigPnd")
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

