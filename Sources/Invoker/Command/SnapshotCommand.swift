// SnapshotCommand: `invoker snapshot --pid PID` runs the chain against a running process (a hang,
// a stuck server) and lets it go on: its threads are stopped only while registers and stacks are
// copied.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import TracerKit

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Capture a running process without stopping it for longer than a copy of its stacks.")

    @Option(name: .long, help: "The process to capture.")
    var pid: Int32

    @Option(name: .long, help: "The configuration file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

    @Option(name: .long, help: "Write the report into this directory (default: the configured one, else the current directory).")
    var output: String?

    @Flag(name: .long, help: "Write the report to standard output instead.")
    var stdout = false

    func run() async throws {
        try await capture()
    }

    /// The snapshot, on the main thread as the crash helper's run is: the main thread's heap
    /// grows by brk with glibc's top pad, where a concurrency worker's arena grows by an mprotect
    /// per page touched (a 256-thread snapshot's report: thousands of them; bench/README.md).
    @MainActor
    private func capture() async throws {
        StandardDescriptors.ensureOpen()
        StandardDescriptors.raiseLimit()
        Diagnostics.bootstrap(syslog: false, ident: "invoker")
        let logger = Logger(label: "invoker")
        let configuration = try ChainAssembly.forCommand(explicit: config)
        // --output names where this snapshot should go: made if it is not there yet (as mkdir -p).
        // (Mode 0750; a failure shows in the directory check that follows.)
        if let output, !stdout { Directories.make(output, mode: 0o750) }
        let directory = LogDirectory.forSnapshot(explicit: output ?? configuration.outputDirectory)
        if !stdout, let problem = directory.problem {
            throw CommandFailure(.nothing, problem)
        }
        let dispatcher = Dispatcher(configuration: configuration, outputDirectory: directory, serverUser: nil,
                                    hostTriplet: nil, toStandardOutput: stdout, logger: logger)
        let status = await dispatcher.run(pid: pid, fault: nil, mode: .live)
        if let failure = ExitStatus.ending(status) { throw failure }
    }
}
