// InvokerCommand: the command line. It accepts the union of Traffic Server's traffic_crashlog
// options (ATS starts its crash_log_helper with `--syslog --wait --host TRIPLET --user NAME`) and
// the old backtrace-invoker's. An option it does not know must never make it exit at start-up
// (ATS would then run with no crash helper), so unknown words are collected and logged.

import ArgumentParser
import Logging

@main
struct InvokerCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "invoker",
        abstract: "Capture every thread's stack, the fault and the process state of a crashing server.",
        discussion: """
        Started by a server as its crash helper (Traffic Server: proxy.config.crash_log_helper), \
        invoker parks itself (--wait) until the server faults, then stops every thread of the \
        server once, unwinds and symbolizes every stack, and writes a traffic_crashlog-compatible \
        crash log, crash-%Y-%m-%d-%H%M%S.log, to the Traffic Server log directory.
        Without --wait it captures the target (--target, default: the parent) right away.
        """)

    @Flag(name: .long, help: "Log to syslog (facility LOG_DAEMON).")
    var syslog = false

    @Flag(name: [.customShort("w"), .long], help: "Park until the server crashes (the crash helper protocol).")
    var wait = false

    @Option(name: .long, help: "The server's build triplet (any Linux triplet is decoded).")
    var host: String?

    @Option(name: .long, help: "The server's user; external programs run as this user.")
    var user: String?

    @Option(name: [.customShort("p"), .long], help: "The process to capture (default: the parent process).")
    var target: Int32?

    @Flag(name: [.customShort("d"), .long], help: "Write the crash log to standard output and log to standard error.")
    var debug = false

    @Option(name: .long, help: "Run this program with the target pid as its argument; its output is appended to the log.")
    var exec: String?

    @Option(name: .long, help: "Traffic Server run root (its runroot.yaml names the log directory).")
    var runroot: String?

    @Option(name: .customLong("log-dir"), help: "Write crash logs here instead of the Traffic Server log directory.")
    var logDirectory: String?

    @Option(name: .long, help: "Seconds the whole capture may take before the server is let go (default 60).")
    var deadline: Double = 60

    @Flag(name: [.customShort("v"), .long], help: "Print the version and exit.")
    var version = false

    /// Words we do not recognise (newer Traffic Server options): logged, never fatal.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var unrecognized: [String] = []

    func run() async throws {
        if version {
            print("invoker \(Self.version)")
            return
        }
        StandardDescriptors.ensureOpen()
        Diagnostics.bootstrap(syslog: syslog && !debug, ident: "invoker")
        let logger = Logger(label: "invoker")
        if !unrecognized.isEmpty {
            logger.warning("ignoring unrecognized arguments: \(unrecognized.joined(separator: " "))")
        }
        let options = CrashRun.Options(
            target: target, wait: wait, debug: debug, hostTriplet: host, user: user, execProgram: exec,
            runroot: runroot, logDirectory: logDirectory, deadlineSeconds: deadline)
        let status = await CrashRun(options: options, logger: logger).run()
        if status != 0 { throw ExitCode(status) }
    }
}
