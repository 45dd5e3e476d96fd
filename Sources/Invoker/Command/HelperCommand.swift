// HelperCommand: the crash helper. It accepts the union of Traffic Server's traffic_crashlog
// options (ATS starts it with `--syslog --wait --host TRIPLET --user NAME`) and the old
// backtrace-invoker's (-p -t -w -n -d -P -v). An option it does not know must never make it exit
// at start-up (ATS would then run with no crash helper), so unknown words are logged and ignored.

import ArgumentParser
import Logging

struct HelperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "helper",
        abstract: "Park beside a server and capture it when it crashes (the default command).")

    @Flag(name: .long, help: "Log to syslog (facility LOG_DAEMON).")
    var syslog = false

    @Flag(name: [.customShort("w"), .long], help: "Park until the server crashes (stop ourselves; SIGCONT wakes us).")
    var wait = false

    @Option(name: .long, help: "The server's build triplet (any Linux triplet is decoded).")
    var host: String?

    @Option(name: .long, help: "The server's user; external tracers run as this user unless configured otherwise.")
    var user: String?

    @Option(name: [.customShort("p"), .long], help: "The process to capture (default: the parent process).")
    var target: Int32?

    @Flag(name: [.customShort("d"), .long], help: "Write the report to standard output and log to standard error.")
    var debug = false

    @Option(name: [.customShort("t"), .long], help: ArgumentHelp(
        "An external tracer, \"PATH ARGS\" split on spaces (no shell), %p replaced by the pid; repeatable (16 at most).",
        valueName: "command"))
    var tracer: [String] = []

    @Option(name: .long, help: "Run this program with the target pid as its argument; its output is appended to the log.")
    var exec: String?

    @Flag(name: [.customShort("n"), .customLong("no-ats-compatibility")],
          help: "Do not read a Traffic Server crash payload from standard input after waking.")
    var noATSCompatibility = false

    @Option(name: [.customShort("P"), .customLong("pid-file")], help: "Stop the invoker whose pid is in this file, then write ours to it.")
    var pidFile: String?

    @Option(name: .long, help: "The configuration file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

    @Option(name: [.customLong("run-root"), .customLong("runroot")],
            help: "Traffic Server run root (its runroot.yaml names the log directory; default $TS_RUNROOT).")
    var runroot: String?

    @Option(name: .customLong("log-dir"), help: "Write reports here instead of the configured or Traffic Server log directory.")
    var logDirectory: String?

    @Flag(name: .long, help: ArgumentHelp(
        "Serve a program armed by libinvoker-client: snapshot requests, and reports in --log-dir, $INVOKER_LOG_DIR, output_dir or /var/crash/invoker."))
    var client = false

    @Flag(name: [.customShort("v"), .long], help: "Print the version and exit.")
    var version = false

    /// Words we do not recognise (newer Traffic Server options): logged, never fatal.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var unrecognized: [String] = []

    func run() async throws {
        if client { return try await runClient() }
        guard let helper = makeHelper() else { return }
        let status = await helper.run()
        if let failure = ExitStatus.ending(status) { throw failure }
    }

    /// The root command's main() runs this on the main thread: everything up to and including
    /// parking and waking is synchronous (no Swift concurrency worker thread exists while the
    /// helper is parked; see CrashHelper.parkAndWake), then the capture runs.
    @MainActor
    func runParkingFirst() async throws {
        if client { return try await runClient() }
        guard let helper = makeHelper() else { return }
        let status = switch helper.parkAndWake() {
        case .exit(let status): status
        case let .capture(pid, fault, regain, start): await helper.capture(pid: pid, fault: fault, regain: regain, start: start)
        }
        if let failure = ExitStatus.ending(status) { throw failure }
    }

    /// With --client: serve a program armed by libinvoker-client (ClientHelper).
    @MainActor
    func runClient() async throws {
        guard let dispatcher = makeDispatcher() else { return }
        let status = await ClientHelper(target: target, dispatcher: dispatcher).run()
        if let failure = ExitStatus.ending(status) { throw failure }
    }

    /// Sets up logging, the configuration and the dispatcher (synchronously); nil after --version.
    func makeHelper() -> CrashHelper? {
        makeDispatcher().map { CrashHelper(target: target, wait: wait, readPayload: !noATSCompatibility, dispatcher: $0) }
    }

    /// Logging, the configuration and the dispatcher; nil after --version.
    func makeDispatcher() -> Dispatcher? {
        if version {
            print("invoker \(InvokerCommand.version)")
            return nil
        }
        StandardDescriptors.ensureOpen()
        StandardDescriptors.raiseLimit()
        Diagnostics.bootstrap(syslog: !debug && (syslog || wait), ident: "invoker")
        let logger = Logger(label: "invoker")
        if !unrecognized.isEmpty {
            logger.warning("ignoring unrecognized arguments: \(unrecognized.joined(separator: " "))")
        }
        let environment = LogDirectory.currentEnvironment()
        let configuration: Configuration
        var configurationProblem: String? = nil
        do {
            configuration = try ChainAssembly.configuration(
                file: ConfigurationLoader.locate(explicit: config, environment: environment),
                commandLineTracers: tracer, environmentTracer: environment["INVOKER_TRACER"], exec: exec)
        } catch {
            // A bad configuration is reported now, at server start-up, and the helper still parks
            // with the built-in chain: a server must never lose its crash helper to a typo.
            // Said on standard error as well as in the log: Traffic Server shows the helper's
            // standard error where it was started.
            logger.critical("\(error.description); using the built-in chain instead")
            if syslog || wait { printToStandardError("invoker: \(error.description); using the built-in chain instead") }
            configuration = Configuration()
            configurationProblem = error.description
        }
        for warning in configuration.warnings {
            logger.error("\(warning)")
            if syslog || wait { printToStandardError("invoker: \(warning)") }
        }
        if let pidFile { PidFile.takeOver(pidFile, logger: logger) }
        var dispatcher = Dispatcher(
            configuration: configuration,
            outputDirectory: client
                ? LogDirectory.forClient(explicit: logDirectory, configured: configuration.outputDirectory, environment: environment)
                : LogDirectory.resolve(explicit: logDirectory ?? configuration.outputDirectory,
                                       runroot: runroot, environment: environment),
            serverUser: user, hostTriplet: host, toStandardOutput: debug, logger: logger)
        dispatcher.configurationProblem = configurationProblem
        return dispatcher
    }
}
