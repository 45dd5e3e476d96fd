// ExitStatus: what every invoker command's exit status means, decided here and nowhere else (as
// eu-stack's EXIT_OK / EXIT_ERROR / EXIT_BAD / EXIT_USAGE): 0 all done, 1 done in part, 2 nothing
// done, 64 a command line it cannot use (swift-argument-parser's own status for that).
// invoker(8) EXIT STATUS documents them.

import ArgumentParser
import TracerKit

enum ExitStatus: Int32 {
    /// The report was written with every thread's stack; a configuration is valid; the command did
    /// what it was asked (or there was nothing to report: a clean shutdown).
    case ok = 0
    /// Done in part: a report was written, but without some or all of the stacks (a thread or the
    /// whole process could not be stopped, the deadline passed); or a command found problems
    /// (`check-config`'s invalid file, a report `show` cannot read, an envelope `send` could not
    /// deliver).
    case partial = 1
    /// Nothing done: no report file could be written (it went to standard error and syslog), or
    /// the command could not start its work (its own configuration or output directory unusable).
    case nothing = 2
    /// A command line it cannot use.
    case usage = 64

    /// The status of a run whose report is `report`, written to a file or not.
    static func of(_ report: CrashReport, written: Bool) -> ExitStatus {
        of(threads: report.threads, written: written)
    }

    /// The status of a run whose report has `threads` (before it is assembled, as the parent
    /// that an early release lets exit knows them).
    static func of(threads: [ThreadReport], written: Bool) -> ExitStatus {
        guard written else { return .nothing }
        return threads.isEmpty || threads.contains { $0.frames.isEmpty } ? .partial : .ok
    }

    /// The error that ends a command with this status (ArgumentParser prints nothing for it).
    var exitCode: ExitCode { ExitCode(rawValue) }

    /// The error that ends a command with a run's status (nil: it ended well). The run said what
    /// it had to in its report and log: standard error gets nothing more.
    static func ending(_ status: ExitStatus) -> CommandFailure? {
        status == .ok ? nil : CommandFailure(status)
    }

    /// The same for a run that returns a status's raw value (the dispatcher's, which a forked
    /// child also passes to `_exit`).
    static func ending(_ status: Int32) -> CommandFailure? {
        ending(ExitStatus(rawValue: status) ?? .partial)
    }

    /// Ends the process for `error`: the one place that decides what reaches standard error and
    /// the exit status. A CommandFailure prints its sentences and exits with its status; anything
    /// else (a command line it cannot use, ArgumentParser's ExitCode) is ArgumentParser's to print,
    /// with its status (64 for usage).
    static func exit(for error: any Error) -> Never {
        if let failure = error as? CommandFailure {
            for message in failure.messages { printToStandardError(message) }
            InvokerCommand.exit(withError: failure.status.exitCode)
        }
        InvokerCommand.exit(withError: error)
    }
}
