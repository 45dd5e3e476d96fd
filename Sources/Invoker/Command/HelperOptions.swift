// HelperOptions: the crash helper's options as a plain value, and what the helper does with them.
// HelperCommand (swift-argument-parser) fills one from any command line; for the command lines
// servers start the helper with (`--syslog --wait --host TRIPLET --user NAME`, backtrace-invoker's
// -p -t -w …), `init?(serverArguments:)` reads the words before argument-parser is touched. Its
// parse costs the parked start-up most of its time and memory (the runtime's protocol-conformance
// scans and metadata of every command's options); a server waits for that start-up. Anything
// unusual (help, --version, a subcommand, an unknown or repeated option, a value that looks like
// an option) is left to argument-parser, so both read every command line they accept alike.

#if canImport(Glibc)
import Glibc
#endif
import Logging

struct HelperOptions: Equatable {
    var syslog = false
    var wait = false
    var host: String? = nil
    var user: String? = nil
    var target: Int32? = nil
    var debug = false
    var tracer: [String] = []
    var exec: String? = nil
    var noATSCompatibility = false
    var pidFile: String? = nil
    var config: String? = nil
    var runroot: String? = nil
    var logDirectory: String? = nil
    var client = false
    var version = false
    /// Words not recognised (newer Traffic Server options): logged, never fatal.
    var unrecognized: [String] = []

    init() {}

    /// The options of a server's command line (the words after the program name), read without
    /// argument-parser; nil when argument-parser must read it (see the file's header).
    init?(serverArguments words: [String]) {
        var seen: UInt32 = 0
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            var name = word, inlineValue: String? = nil
            if word.hasPrefix("--"), let equals = word.firstIndex(of: "=") {
                name = String(word[..<equals])
                inlineValue = String(word[word.index(after: equals)...])
            }
            guard let option = ServerOption(name) else { return nil }
            // Repeating an option other than --tracer is left to argument-parser.
            guard option == .tracer || seen & option.bit == 0 else { return nil }
            seen |= option.bit
            if option.takesValue {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard index < words.count else { return nil }
                    value = words[index]
                    index += 1
                }
                guard !value.hasPrefix("-") else { return nil }
                switch option {
                case .host: host = value
                case .user: user = value
                case .target:
                    guard let pid = Int32(value) else { return nil }
                    target = pid
                case .tracer: tracer.append(value)
                case .exec: exec = value
                case .pidFile: pidFile = value
                case .config: config = value
                case .runroot: runroot = value
                case .logDirectory: logDirectory = value
                default: return nil
                }
            } else {
                guard inlineValue == nil else { return nil }
                switch option {
                case .syslog: syslog = true
                case .wait: wait = true
                case .debug: debug = true
                case .noATSCompatibility: noATSCompatibility = true
                case .client: client = true
                default: return nil
                }
            }
        }
    }

    /// The options `init?(serverArguments:)` reads (HelperCommand declares the same names). A
    /// switch, not a dictionary: a dictionary's metadata would cost the runtime a conformance scan.
    private enum ServerOption: UInt32 {
        case syslog, wait, debug, noATSCompatibility, client
        case host, user, target, tracer, exec, pidFile, config, runroot, logDirectory

        init?(_ name: String) {
            switch name {
            case "--syslog": self = .syslog
            case "--wait", "-w": self = .wait
            case "--debug", "-d": self = .debug
            case "-n", "--no-ats-compatibility": self = .noATSCompatibility
            case "--client": self = .client
            case "--host": self = .host
            case "--user": self = .user
            case "-p", "--target": self = .target
            case "-t", "--tracer": self = .tracer
            case "--exec": self = .exec
            case "-P", "--pid-file": self = .pidFile
            case "--config": self = .config
            case "--run-root", "--runroot": self = .runroot
            case "--log-dir": self = .logDirectory
            default: return nil
            }
        }

        var bit: UInt32 { 1 << rawValue }

        var takesValue: Bool {
            switch self {
            case .syslog, .wait, .debug, .noATSCompatibility, .client: false
            default: true
            }
        }
    }
}

extension HelperOptions {
    /// What is left of a helper's run once `parkFirst()` returns.
    enum Remainder {
        /// Nothing to capture (a clean shutdown, --version, parking failed): exit with this status.
        case exit(Int32)
        /// The capture (or --client's serving), on the main actor; it returns the exit status.
        case run(@MainActor () async -> Int32)
    }

    /// Sets the helper up, parks and wakes, synchronously on the calling (main) thread, before the
    /// Swift concurrency runtime has made a task or looked up its main executor (InvokerMain): the
    /// parked helper is one thread and keeps none of that runtime's pages (CrashHelper.parkAndWake).
    /// The capture that follows a wake is returned, to run as the main actor's first task.
    @MainActor
    func parkFirst() -> Remainder {
        if client { return .run { await runClient() } }
        guard let helper = makeHelper() else { return .exit(0) }
        return switch helper.parkAndWake() {
        case .exit(let status): .exit(status)
        case let .capture(pid, fault, regain, start):
            .run { await helper.capture(pid: pid, fault: fault, regain: regain, start: start) }
        }
    }

    /// `parkFirst()` and then what it left to run, in a task already running (`invoker helper …`,
    /// which argument-parser reads). Returns the exit status.
    @MainActor
    func parkThenRun() async -> Int32 {
        switch parkFirst() {
        case .exit(let status): status
        case .run(let body): await body()
        }
    }

    /// With --client: serve a program armed by libinvoker-client (ClientHelper).
    func runClient() async -> Int32 {
        guard let dispatcher = makeDispatcher() else { return 0 }
        return await ClientHelper(target: target, dispatcher: dispatcher).run()
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
        let environment = EnvironmentVariables.process
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
