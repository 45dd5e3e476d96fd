// InvokerCommand: the root of the command line. With no subcommand it is the crash helper
// (HelperCommand), so the command lines Traffic Server and backtrace-invoker users already have
// keep working: `invoker --syslog --wait --host … --user …`, `invoker -p PID -t "…"`.

import ArgumentParser

@main
struct InvokerCommand: AsyncParsableCommand {
    static let version = "0.2.0"

    static let configuration = CommandConfiguration(
        commandName: "invoker",
        abstract: "Capture every thread's stack, the fault and the process state of a crashing or stuck server.",
        discussion: """
        Without a subcommand, invoker is a crash helper: started by a server (Traffic Server: \
        proxy.config.crash_log_helper), it parks itself with --wait until the server faults, \
        then stops every thread once, runs its tracer chain and writes a crash log.
        """,
        subcommands: [HelperCommand.self, CheckConfigCommand.self, SnapshotCommand.self, ShowCommand.self, SendCommand.self,
                      ExecTracerCommand.self, ListCommand.self, GroupsCommand.self, ResolveCommand.self, StoreCommand.self,
                      NotifyCommand.self, CoreCommand.self, CacheDebugInfoCommand.self],
        defaultSubcommand: HelperCommand.self)

    /// ArgumentParser's main(), except that the helper parks on the main thread before any
    /// Swift concurrency worker thread is created (HelperCommand.runParkingFirst).
    @MainActor
    static func main() async {
        // `invoker --help` is the helper's help too: the helper is what Traffic Server runs, and
        // its options would otherwise show only under `invoker help helper`.
        let arguments = serverWords()
        // A server's command line parks without argument-parser (HelperOptions' header says why).
        if let options = HelperOptions(serverArguments: arguments) {
            let status = await options.runParkingFirst()
            if let failure = ExitStatus.ending(status) { ExitStatus.exit(for: failure) }
            return
        }
        if arguments == ["--help"] || arguments == ["-h"] || arguments == ["help"] {
            print(helpMessage())
            print("\nThe helper (the default command; `invoker` with no subcommand is `invoker helper`):\n")
            print(helpMessage(for: HelperCommand.self))
            return
        }
        do {
            var command = try parseAsRoot()
            if let helper = command as? HelperCommand {
                try await helper.runParkingFirst()
            } else if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            ExitStatus.exit(for: error)
        }
    }

    /// The words after the program name, from argv. Not `CommandLine.arguments`: its getter (the
    /// standard library's own code) makes the runtime's first lookup of a type by mangled name
    /// and walks the standard library's code, 0.8 MB of the parked helper (bench/README.md).
    /// argv is read up to its terminating null (`CommandLine.argc`'s getter lies in another part of
    /// the standard library's code, one more 64 KB window).
    static func serverWords() -> [String] {
        let argv = CommandLine.unsafeArgv
        var words: [String] = []
        guard argv[0] != nil else { return words }
        var index = 1
        while let word = argv[index] {
            words.append(String(cString: word))
            index += 1
        }
        return words
    }
}
