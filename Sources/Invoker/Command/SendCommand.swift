// SendCommand: `invoker send` delivers the Sentry outbox now: the envelopes a crash could not
// send, even those waiting for their back-off (a rate limit Sentry set is kept unless --force).
// `--dry-run` says what would go, `--print` shows each pending envelope's items (the event as
// JSON), `--list` shows what was sent and Sentry's event ids, `--report FILE.json` queues a report
// written earlier (or elsewhere).
import ArgumentParser
import FoundationEssentials
import Logging
import TracerKit

struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send the reports waiting in the Sentry outbox (or show them, or what was sent).")

    @Option(name: .long, help: "The configuration file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

    @Option(name: .customLong("log-dir"), help: "The report directory whose outbox to use (default: as the helper resolves it).")
    var logDirectory: String?

    @Option(name: .customLong("run-root"), help: "Traffic Server run root (default $TS_RUNROOT).")
    var runroot: String?

    @Option(name: .long, help: "Queue this JSON report (and its .log beside it) before sending.")
    var report: String?

    @Flag(name: .customLong("dry-run"), help: "Send nothing: list what would be sent.")
    var dryRun = false

    @Flag(name: .long, help: "Print each pending envelope's items (the event as JSON); implies --dry-run.")
    var print = false

    @Flag(name: .long, help: "List what was sent: report, Sentry's event id, when.")
    var list = false

    @Flag(name: .long, help: "Send even while Sentry's rate limit (429, X-Sentry-Rate-Limits) lasts.")
    var force = false

    func run() throws {
        Diagnostics.bootstrap(syslog: false, ident: "invoker")
        let logger = Logger(label: "invoker")
        let environment = LogDirectory.currentEnvironment()
        let configuration = try ChainAssembly.forCommand(explicit: config)
        let directory = LogDirectory.resolve(explicit: logDirectory ?? configuration.outputDirectory, runroot: runroot).path
        guard let forwarder = SentryForwarder.make(configuration: configuration, reportDirectory: directory,
                                                   environment: environment, logger: logger) else {
            throw CommandFailure(.nothing, "no Sentry DSN: set dsn in the [sentry] table of invoker.conf, or SENTRY_DSN")
        }
        if list {
            for record in forwarder.outbox.sentRecords() {
                Swift.print("\(CrashLogWriter.formatUTC(time: record.sent))  \(record.sentryEventID ?? record.eventID)  HTTP \(record.status)  \(record.report ?? record.name)")
            }
            return
        }
        if var report {
            // Recorded with the entry (and shown by --list): absolute, so it names the file anywhere.
            if !report.hasPrefix("/") { report = LogDirectory.currentDirectory() + "/" + report }
            guard case .success(let json) = ProcFile.readBytes(report, limit: 64 << 20) else {
                throw CommandFailure(.nothing, "cannot read \(report)")
            }
            let stem = report.hasSuffix(".json") ? String(report.dropLast(".json".count)) : report
            let text: [UInt8]? = if case .success(let bytes) = ProcFile.readBytes(stem + ".log", limit: 64 << 20) { bytes } else { nil }
            let baseName = stem.split(separator: "/").last.map(String.init) ?? "report"
            guard forwarder.enqueue(reportJSON: json, textLog: text, reportPath: stem + ".log", baseName: baseName) != nil else {
                throw CommandFailure(.nothing)
            }
        }
        if print {
            for entry in forwarder.outbox.pending() {
                Swift.print("== \(entry.name) (event \(entry.eventID), report \(entry.report ?? "-"), attempts \(entry.attempts))")
                guard let gzipped = forwarder.outbox.envelope(of: entry), let bytes = Gzip.decompress(gzipped),
                      let envelope = try? SentryEnvelope.parse(bytes) else {
                    Swift.print("(unreadable envelope)")
                    continue
                }
                for item in envelope.items {
                    let type = item.header["type"]?.stringValue ?? "?"
                    if type == "event" {
                        Swift.print(String(decoding: item.payload, as: UTF8.self))
                    } else {
                        Swift.print("[\(type) \(item.header["filename"]?.stringValue ?? "") \(item.payload.count) bytes]")
                    }
                }
            }
            return
        }
        let outcomes = forwarder.deliverPending(ignoreBackoff: true, ignoreRateLimit: force, dryRun: dryRun)
        if outcomes.isEmpty { Swift.print("the Sentry outbox \(forwarder.outbox.path) is empty") }
        var failed = false
        for outcome in outcomes {
            let name = outcome.entry.report ?? outcome.entry.name
            switch outcome.result {
            case .sent(let record): Swift.print("sent \(name): Sentry event \(record.sentryEventID ?? record.eventID)")
            case .wouldSend: Swift.print("would send \(name) (event \(outcome.entry.eventID), \(outcome.entry.bytes) bytes gzipped) to \(forwarder.dsn.envelopeURL)")
            case .waiting(let until): Swift.print("waiting until \(CrashLogWriter.formatUTC(time: until)): \(name)")
            case .failed(let reason, let next):
                failed = true
                Swift.print("not sent \(name): \(reason); next attempt after \(CrashLogWriter.formatUTC(time: next))")
            }
        }
        if failed { throw CommandFailure(.partial) }
    }
}
