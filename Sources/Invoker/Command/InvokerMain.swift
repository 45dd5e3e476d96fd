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
        do {
            var command = try InvokerCommand.parseAsRoot()
            if let helper = command as? HelperCommand {
                finish(helper.options.parkFirst())
            } else if let asynchronous = command as? AsyncParsableCommand {
                run(asynchronous)
            } else {
                try command.run()
                exit(0)
            }
        } catch {
            ExitStatus.exit(for: error)
        }
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
    /// server is released); then the main queue takes over, as after an async main's suspension.
    @MainActor
    static func runOnMainActor(_ body: sending @escaping @MainActor () async -> Int32) -> Never {
        Task.immediate { @MainActor in exitWith(await body()) }
        dispatchMain()
    }

    /// Runs a command other than the helper, as an async main would (its `run()` is not isolated to
    /// the main actor: it starts on this thread and goes on on the runtime's executors), and exits.
    nonisolated static func run(_ command: sending any AsyncParsableCommand) -> Never {
        Task.immediate {
            var command = command
            do {
                try await command.run()
            } catch {
                ExitStatus.exit(for: error)
            }
            exit(0)
        }
        dispatchMain()
    }

    /// Exits with a run's status; a failing one as ArgumentParser ends a command (ExitStatus).
    static func exitWith(_ status: Int32) -> Never {
        if let failure = ExitStatus.ending(status) { ExitStatus.exit(for: failure) }
        exit(0)
    }
}
