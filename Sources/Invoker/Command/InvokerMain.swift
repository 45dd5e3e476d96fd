// InvokerMain: the program's entry. A synchronous main, so that a crash helper parks before the
// Swift concurrency runtime is touched; everything asynchronous runs after it, as the main actor's
// first task, exactly as an async main's body would.
//
// An `async` main makes its main task before the first line of its body runs: the task, the main
// executor's lookup and the runtime's executor code, four 64 KB windows of the parked helper's
// text (bench/README.md, "parked RSS"). A helper parked for the server's whole life has no use
// for them until the server crashes; after the wake they cost a few page faults.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Dispatch

@main
enum InvokerMain {
    @MainActor
    static func main() {
        let arguments = InvokerCommand.serverWords()
        // A server's command line parks without argument-parser (HelperOptions' header says why).
        if let options = HelperOptions(serverArguments: arguments) {
            finish(options.parkFirst())
        }
        // `invoker --help` is the helper's help too: the helper is what Traffic Server runs, and
        // its options would otherwise show only under `invoker help helper`.
        if arguments == ["--help"] || arguments == ["-h"] || arguments == ["help"] {
            print(InvokerCommand.helpMessage())
            print("\nThe helper (the default command; `invoker` with no subcommand is `invoker helper`):\n")
            print(InvokerCommand.helpMessage(for: HelperCommand.self))
            exit(0)
        }
        runOnMainActor { await runCommand() }
    }

    /// Any other command line, parsed by argument-parser and run as the main actor's first task,
    /// as an async main's body would run it. `invoker helper …` parks here too, on the main thread
    /// before any worker exists, only later than a server's command line does.
    @MainActor
    static func runCommand() async -> Int32 {
        do {
            var command = try InvokerCommand.parseAsRoot()
            if let helper = command as? HelperCommand {
                return await helper.options.parkThenRun()
            } else if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            ExitStatus.exit(for: error)
        }
        return 0
    }

    /// Ends the process with what the helper left to do: its status, or the capture to run first.
    @MainActor
    static func finish(_ remainder: HelperOptions.Remainder) -> Never {
        switch remainder {
        case .exit(let status): exitWith(status)
        case .run(let body): runOnMainActor(body)
        }
    }

    /// Runs `body` as the main actor's task and exits with the status it returns. It starts at
    /// once on this (the main) thread and runs there up to its first suspension, as an async
    /// main's body does (a crash's stopped window has none: no worker thread exists before the
    /// server is released); then `dispatchMain()` runs the main actor's jobs on this thread, as
    /// the runtime's drain does after an async main's body suspends. The body must be isolated
    /// to the main actor: `invoker snapshot` captures there (its malloc heap is the main
    /// thread's; a worker's arena grows by an mprotect per page, bench/README.md).
    @MainActor
    static func runOnMainActor(_ body: @escaping @MainActor () async -> Int32) -> Never {
        Task.immediate { @MainActor in exitWith(await body()) }
        dispatchMain()
    }

    /// Exits with a run's status; a failing one as ArgumentParser ends a command (ExitStatus).
    static func exitWith(_ status: Int32) -> Never {
        if let failure = ExitStatus.ending(status) { ExitStatus.exit(for: failure) }
        exit(0)
    }
}
