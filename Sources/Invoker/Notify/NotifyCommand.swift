// NotifyCommand: `invoker notify --notifiers JSON --values JSON` (internal, not listed in --help)
// runs the `[[notify]]` programs for one written report. The helper's child execs it once the
// final report is on disk and indexed, so the notifiers run in a fresh process (no Swift
// concurrency after fork) and outside the server's downtime. Before a notifier with a `group`
// runs, the report files are given to that group with mode 0440.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import FoundationEssentials
import Logging
import TracerKit
import Tracers

struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Run the configured notifiers for a written report (used by invoker itself).",
        shouldDisplay: false)

    @Option(name: .long, help: "The notifiers, as JSON.")
    var notifiers: String

    @Option(name: .long, help: "The placeholder values, as JSON.")
    var values: String

    func run() async throws {
        StandardDescriptors.ensureOpen()
        Diagnostics.bootstrap(syslog: true, ident: "invoker")
        let logger = Logger(label: "invoker")
        guard let specs = try? JSONDecoder().decode([NotifierSpec].self, from: Data(notifiers.utf8)),
              let values = try? JSONDecoder().decode(NotifierValues.self, from: Data(self.values.utf8)) else {
            logger.error("invoker notify: unreadable arguments")
            throw CommandFailure(.usage)
        }
        let deadline = Deadline.now().adding(seconds: specs.reduce(0) { $0 + $1.timeout } + 5)
        for spec in specs {
            if let group = spec.group, let problem = Self.share(values, with: group) { logger.error("notifier \(spec.name): \(problem)") }
            var identity: UserIdentity? = nil
            if let user = spec.user, getuid() == 0 {
                identity = UserIdentity.lookUp(user)
                if identity == nil { logger.error("notifier \(spec.name): user \(user) does not exist; it runs as \(getuid())") }
            }
            let tracer = ExternalTracer(name: spec.name, command: spec.command.map(values.expand), timeout: spec.timeout,
                                        identity: identity, environment: spec.environment, outputLimit: 64 * 1024,
                                        launcher: Dispatcher.tracerLauncher)
            let run = await tracer.run(deadline: deadline)
            if run.exitStatus == 0 {
                logger.notice("notifier \(spec.name) for \(values.textPath): \(run.outcome)")
            } else {
                logger.error("notifier \(spec.name) for \(values.textPath): \(run.outcome)\(run.output.map { ": " + $0.prefix(500) } ?? "")")
            }
        }
    }

    /// Gives the report files to `group` with mode 0440; the failure as a sentence.
    static func share(_ values: NotifierValues, with group: String) -> String? {
        let entry = UInt32(group).flatMap { getgrgid($0) } ?? getgrnam(group)
        guard let entry else { return "group \(group) does not exist; the reports stay readable by root only" }
        for path in [values.textPath, values.jsonPath] where !path.isEmpty {
            if chown(path, uid_t.max, entry.pointee.gr_gid) != 0 || chmod(path, 0o440) != 0 {
                return "cannot give \(path) to group \(group): \(String(cString: strerror(errno)))"
            }
        }
        return nil
    }
}

extension NotifyCommand {
    /// Replaces this process with `invoker notify` for the report at `location`; returns only if
    /// the exec failed (the sentence why).
    static func exec(_ specs: [NotifierSpec], report: CrashReport, location: ReportLocation, outputDirectory: String) -> String {
        let values = NotifierValues(
            pid: report.pid, tid: report.fault?.crashingThread ?? report.pid, signal: report.fault?.signal?.number ?? 0,
            executable: report.executable, outputDirectory: outputDirectory, textPath: location.textPath ?? "",
            jsonPath: location.jsonPath ?? "", fingerprint: report.fingerprint?.value ?? "",
            occurrence: report.occurrence?.state.rawValue ?? "")
        let encoder = JSONEncoder()
        guard let specsJSON = try? encoder.encode(specs), let valuesJSON = try? encoder.encode(values) else {
            return "cannot encode the notifiers"
        }
        let argv = ["invoker", "notify", "--notifiers", String(decoding: specsJSON, as: UTF8.self),
                    "--values", String(decoding: valuesJSON, as: UTF8.self)]
        var cArguments = argv.map { strdup($0) } + [nil]
        execv(Dispatcher.tracerLauncher, &cArguments)
        return "cannot start the notifiers (exec \(Dispatcher.tracerLauncher)): \(String(cString: strerror(errno)))"
    }
}
