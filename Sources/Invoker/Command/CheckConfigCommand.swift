// CheckConfigCommand: `invoker check-config [FILE]` validates a configuration without running
// anything: exit 0 and a summary (the chain, and the user each external tracer runs as), or exit
// 1 and every problem found, one file:line: key: problem sentence a line. The loader stops at the
// first problem (the helper only needs to know the file is unusable); to list the others in the
// same run, the line of each problem found is blanked and the text parsed again.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import TracerKit

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file without running anything.")

    @Argument(help: "The file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var file: String?

    /// At most this many problems are listed.
    static let maxProblems = 100

    func run() throws {
        guard let path = ConfigurationLoader.locate(explicit: file) else {
            print("no configuration file (none given, INVOKER_CONFIG unset, no /etc/invoker/invoker.conf): the built-in chain runs")
            return
        }
        do {
            let configuration = try ConfigurationLoader.load(path: path, strict: true)
            let chain = configuration.tracers.map { spec -> String in
                switch spec {
                case .builtin(let builtin): builtin.use
                case .external(let external):
                    "\(external.name) (\(external.command.joined(separator: " ")), timeout \(external.timeout) s, "
                        + "runs as \(external.user ?? "the user Traffic Server passes with --user, else as invoker's own user"))"
                }
            }
            print("\(path): OK")
            print("tracers, in order: \(chain.joined(separator: "; "))")
            if let sentry = configuration.sentry { print(sentry.summary) }
            print("deadline \(configuration.deadline) s, failure policy \(configuration.failurePolicy.rawValue), formats \(configuration.formats.map(\.rawValue).joined(separator: ", "))")
        } catch {
            throw CommandFailure(.partial, messages: Self.allProblems(path: path, first: error).map(\.description))
        }
    }

    /// `first` and the problems after it: each located problem's line is blanked (line numbers
    /// stay) and the text parsed again, until it parses, a problem cannot be located, or blanking
    /// made the text invalid TOML (a value spread over several lines).
    static func allProblems(path: String, first: ConfigurationError) -> [ConfigurationError] {
        var problems = [first]
        guard case .success(let bytes) = ProcFile.readBytes(path, limit: 1 << 20) else { return problems }
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // A problem found before parsing (ownership) leaves the parse's own problems to find.
        var blank: Int? = first.line
        if first.line == nil, case .failure(let error) = parse(lines, path: path), error != first { problems.append(error); blank = error.line }
        while let line = blank, line >= 1, line <= lines.count, problems.count < maxProblems {
            lines[line - 1] = ""
            // A problem with a key already reported is the blanking's doing (a required key gone).
            guard case .failure(let error) = parse(lines, path: path), !problems.contains(error),
                  !error.message.hasPrefix("not valid TOML"),
                  error.key == nil || !problems.contains(where: { $0.key == error.key }) else { break }
            problems.append(error)
            blank = error.line
        }
        return problems
    }

    private static func parse(_ lines: [String], path: String) -> Result<Configuration, ConfigurationError> {
        do throws(ConfigurationError) {
            return .success(try ConfigurationLoader.parse(lines.joined(separator: "\n"), file: path))
        } catch {
            return .failure(error)
        }
    }
}
