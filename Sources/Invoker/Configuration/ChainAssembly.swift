// ChainAssembly: the configuration in force: the file's (or the built-in default), with the
// command line's tracers appended: backtrace-invoker's -t and INVOKER_TRACER, traffic_crashlog's
// --exec.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

enum ChainAssembly {
    /// backtrace-invoker accepted at most 16 tracers; so do we, on the command line.
    static let maxCommandLineTracers = 16

    static func configuration(file: String?, commandLineTracers: [String], environmentTracer: String?,
                              exec: String?) throws(ConfigurationError) -> Configuration {
        var configuration = try file.map { (path) throws(ConfigurationError) in try ConfigurationLoader.load(path: path) }
            ?? Configuration()
        // A bad command-line tracer is left out with a warning: it must not cost the file's chain.
        var given = commandLineTracers
        if given.count > maxCommandLineTracers {
            configuration.warnings.append(ConfigurationError(file: "command line", key: "--tracer",
                message: "\(given.count) tracers given; at most \(maxCommandLineTracers) are accepted; the rest are ignored").description)
            given = Array(given.prefix(maxCommandLineTracers))
        }
        var words = given
        if let environmentTracer, !environmentTracer.isEmpty { words.append(environmentTracer) }
        for (index, text) in words.enumerated() {
            let origin = index < given.count ? "--tracer" : "INVOKER_TRACER"
            do throws(ConfigurationError) {
                let external = try spec(text, origin: origin)
                if TrustedFile.enforced {
                    try ConfigurationLoader.checkProgram(external.command[0], file: "command line", line: nil, key: origin)
                }
                configuration.tracers.append(.external(external))
            } catch {
                configuration.warnings.append(error.description + "; this tracer is left out")
            }
        }
        if let exec {
            configuration.tracers.append(.external(ExternalTracerSpec(
                name: "exec", command: [exec, "%p"], timeout: 30, user: nil, environment: [:], workingDirectory: nil)))
        }
        return configuration
    }

    /// The configuration a one-shot command (snapshot, send, core, list…) runs with: the file's,
    /// with no command-line tracers. A bad file ends the command with its sentence on standard
    /// error and ExitStatus.nothing.
    static func forCommand(explicit: String?) throws -> Configuration {
        do {
            return try configuration(file: ConfigurationLoader.locate(explicit: explicit),
                                     commandLineTracers: [], environmentTracer: nil, exec: nil)
        } catch {
            throw CommandFailure(.nothing, "invoker: \(error.description)")
        }
    }

    /// "PATH ARGS" split on spaces, as backtrace-invoker splits it (no shell, no quoting).
    static func spec(_ text: String, origin: String) throws(ConfigurationError) -> ExternalTracerSpec {
        let command = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let program = command.first, program.hasPrefix("/") else {
            throw ConfigurationError(file: "command line", key: origin,
                                     message: "\"\(text)\" must start with the absolute path of a program")
        }
        if let bad = command.lazy.compactMap(ConfigurationLoader.unknownPlaceholder).first {
            throw ConfigurationError(file: "command line", key: origin,
                                     message: "unknown placeholder %\(bad) in \"\(text)\"; use %p %t %s %e %o %r or %%")
        }
        return ExternalTracerSpec(name: program.split(separator: "/").last.map(String.init) ?? program, command: command,
                                  timeout: 30, user: nil, environment: [:], workingDirectory: nil)
    }
}
