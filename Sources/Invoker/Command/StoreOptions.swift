// StoreOptions: how the store commands (list, show, groups, resolve, store) find the crash store:
// the output directory the crash helper would use (--log-dir, else the configuration's
// output_dir, else Traffic Server's log directory), read from the same configuration.

import ArgumentParser

struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("log-dir"), help: "The report directory (default: as the crash helper finds it).")
    var logDirectory: String?

    @Option(name: .long, help: "The configuration file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

    @Option(name: [.customLong("run-root"), .customLong("runroot")], help: "Traffic Server run root (default $TS_RUNROOT).")
    var runroot: String?

    /// The configuration (the built-in one without a file); a bad file ends the command.
    func configuration() throws -> Configuration { try ChainAssembly.forCommand(explicit: config) }

    /// The report directory.
    func directory(_ configuration: Configuration) -> String {
        LogDirectory.resolve(explicit: logDirectory ?? configuration.outputDirectory, runroot: runroot).path
    }

    /// The store, opened read-only (nil: no store there yet, said on standard error), or writable.
    func openStore(readOnly: Bool) throws -> CrashStore? {
        let directory = directory(try configuration())
        do {
            let store = try CrashStore.open(directory: directory, readOnly: readOnly)
            if store == nil {
                printToStandardError("invoker: no crash store in \(directory) yet (it is made at the first crash, or by `invoker store rebuild`)")
            }
            return store
        } catch {
            throw CommandFailure(.nothing, "invoker: \(error.description)")
        }
    }
}

/// Runs a store operation, turning its failure into the message and ExitStatus.nothing.
func storeOperation<T>(_ body: () throws(StoreError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw CommandFailure(.nothing, "invoker: \(error.description)")
    }
}
