// HelperCommand: the crash helper. It accepts the union of Traffic Server's traffic_crashlog
// options (ATS starts it with `--syslog --wait --host TRIPLET --user NAME`) and the old
// backtrace-invoker's (-p -t -w -n -d -P -v). An option it does not know must never make it exit
// at start-up (ATS would then run with no crash helper), so unknown words are logged and ignored.
// What the helper does with its options is HelperOptions'; a server's usual command line is read
// there without argument-parser.

import ArgumentParser

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

    /// The options as a plain value (what the helper runs with).
    var options: HelperOptions {
        var options = HelperOptions()
        options.syslog = syslog; options.wait = wait; options.host = host; options.user = user
        options.target = target; options.debug = debug; options.tracer = tracer; options.exec = exec
        options.noATSCompatibility = noATSCompatibility; options.pidFile = pidFile; options.config = config
        options.runroot = runroot; options.logDirectory = logDirectory; options.client = client
        options.version = version; options.unrecognized = unrecognized
        return options
    }

    /// InvokerMain runs a parsed HelperCommand itself (`parkThenRun()` in its main-actor task, so
    /// the helper parks on the main thread before any worker exists); this is argument-parser's
    /// way in, the same run.
    func run() async throws {
        let status = await options.parkThenRun()
        if let failure = ExitStatus.ending(status) { throw failure }
    }
}
