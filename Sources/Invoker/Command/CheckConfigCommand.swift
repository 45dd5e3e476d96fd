// CheckConfigCommand: `invoker check-config [FILE]` validates a configuration without running
// anything: exit 0 and a summary, or exit 1 and the file:line: key: problem sentence.

import ArgumentParser

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file without running anything.")

    @Argument(help: "The file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var file: String?

    func run() throws {
        guard let path = ConfigurationLoader.locate(explicit: file, environment: LogDirectory.currentEnvironment()) else {
            print("no configuration file (none given, INVOKER_CONFIG unset, no /etc/invoker/invoker.conf): the built-in chain runs")
            return
        }
        do {
            let configuration = try ConfigurationLoader.load(path: path)
            let chain = configuration.tracers.map { spec -> String in
                switch spec {
                case .builtin(let builtin): builtin.use
                case .external(let external): "\(external.name) (\(external.command.joined(separator: " ")), timeout \(external.timeout) s)"
                }
            }
            print("\(path): OK")
            print("tracers, in order: \(chain.joined(separator: "; "))")
            if let sentry = configuration.sentry { print(sentry.summary) }
            print("deadline \(configuration.deadline) s, failure policy \(configuration.failurePolicy.rawValue), formats \(configuration.formats.map(\.rawValue).joined(separator: ", "))")
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }
    }
}
