// ShowCommand: `invoker show [ID|latest|FINGERPRINT]` prints one report from the crash store: by
// its id (`invoker list`), the latest, or the latest of a fingerprint's group (a prefix is
// enough). Which report is chosen lives here (`ShowCommand.locate`); how it is printed is the
// report file itself, so another rendering is one more option on this command.

import ArgumentParser
import TracerKit

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a crash report: by id, the latest, or the latest of a fingerprint.")

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("A report id (invoker list), \"latest\", or a fingerprint (fp1:…, a prefix is enough).",
                                 valueName: "report"))
    var selector = "latest"

    func run() throws {
        let report = try locate()
        guard let text = ProcFile.readText(report.textPath, limit: 256 << 20) else {
            printToStandardError("invoker: report \(report.id) (\(report.fingerprint)) was indexed, but its file \(report.textPath) cannot be read: deleted behind the index? `invoker store rebuild` re-reads the directory")
            throw ExitCode(1)
        }
        print(text, terminator: "")
    }

    /// The report the selector names; a selector that names none ends the command with a message.
    func locate() throws -> ListedReport {
        guard let crashStore = try store.openStore(readOnly: true) else { throw ExitCode(1) }
        if Int64(selector) == nil, selector != "latest" {
            let matches = try storeOperation { () throws(StoreError) in try crashStore.fingerprints(matching: selector) }
            if matches.count > 1 {
                printToStandardError("invoker: \(selector) matches \(matches.count) fingerprints (\(matches.prefix(5).joined(separator: ", "))…): give more of it")
                throw ExitCode(1)
            }
        }
        guard let report = try storeOperation({ () throws(StoreError) in try crashStore.report(matching: selector) }) else {
            printToStandardError("invoker: no report matches \(selector) (`invoker list` shows the ids, `invoker groups` the fingerprints)")
            throw ExitCode(1)
        }
        return report
    }
}
