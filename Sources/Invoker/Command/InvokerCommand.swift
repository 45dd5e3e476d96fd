// InvokerCommand: the root of the command line. With no subcommand it is the crash helper
// (HelperCommand), so the command lines Traffic Server and backtrace-invoker users already have
// keep working: `invoker --syslog --wait --host … --user …`, `invoker -p PID -t "…"`. The
// program's entry is InvokerMain, which parks a helper before anything here is touched.

import ArgumentParser

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
