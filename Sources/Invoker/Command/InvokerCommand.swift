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
        subcommands: [HelperCommand.self, CheckConfigCommand.self, SnapshotCommand.self, ExecTracerCommand.self, ListCommand.self,
                      ShowCommand.self, GroupsCommand.self, ResolveCommand.self, StoreCommand.self, NotifyCommand.self],
        defaultSubcommand: HelperCommand.self)
}
