// CommandFailure: how a command ends short of what it was asked: the sentences for standard error
// and the ExitStatus. Commands throw it; ExitStatus.exit(for:) is the one place that prints it and
// ends the process (as swift-argument-parser's errors are data that one place turns into text and
// an exit code).

/// A command's failure: what standard error says, and the status.
struct CommandFailure: Error {
    var status: ExitStatus
    /// Whole lines for standard error, in order (none: the command said what it had to already).
    var messages: [String]

    init(_ status: ExitStatus, _ messages: String...) {
        self.status = status; self.messages = messages
    }

    init(_ status: ExitStatus, messages: [String]) {
        self.status = status; self.messages = messages
    }
}
