// ShowCommand: `invoker show REPORT` prints a report's text log; `--all-threads` prints it with
// every thread in full (the log groups identical stacks); `--html` renders the JSON report as one
// self-contained HTML page, to standard output or `-o FILE`. REPORT is `latest`, a report's name
// in the output directory, or the path of its .json or .log file. Resolving (ReportReference),
// reading (ReportDocument) and rendering (HTMLReport, CrashLogWriter) are separate steps.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import SystemPackage
import TracerKit

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a report's crash log, every thread in full, or the report as a self-contained HTML page.")

    @Argument(help: ArgumentHelp("latest, a report's name in the output directory (crash-…), or a report's .json or .log file.",
                                 valueName: "report"))
    var report: String

    @Flag(name: .long, help: "Render the JSON report as one self-contained HTML page (no script, no network).")
    var html = false

    @Flag(name: .customLong("all-threads"), help: "Print every thread in full instead of threads with identical stacks once.")
    var allThreads = false

    @Option(name: [.customShort("o"), .long], help: "Write to this file (mode 0600) instead of standard output.")
    var output: String?

    @Option(name: .long, help: "The configuration file whose output_dir holds the reports (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

    @Option(name: .customLong("log-dir"), help: "Look for reports here (default: output_dir, else the Traffic Server log directory).")
    var logDirectory: String?

    func run() throws {
        do {
            let resolved = try ReportReference(report).resolve(in: reportDirectory())
            let text = html ? try Self.html(jsonPath: resolved.jsonPath)
                : try Self.text(resolved, allThreads: allThreads)
            if let output {
                if case .failure(let failure) = AtomicFile.replace(output, with: text.utf8, mode: 0o600) {
                    throw ShowError.cannotWrite(path: output, reason: failure.description)
                }
            } else {
                print(text, terminator: "")
            }
        } catch let error as ShowError {
            throw CommandFailure(.nothing, "invoker: \(error.description)")
        }
    }

    /// Where `latest` and report names are looked for.
    private func reportDirectory() -> String {
        if let logDirectory { return logDirectory }
        let configured = ConfigurationLoader.locate(explicit: config)
            .flatMap { try? ConfigurationLoader.load(path: $0) }?.outputDirectory
        return configured ?? LogDirectory.resolve(explicit: nil, runroot: nil).path
    }

    /// The JSON report, decoded.
    static func document(jsonPath: String) throws(ShowError) -> ReportDocument {
        let bytes: [UInt8]
        switch ProcFile.readBytes(jsonPath, limit: 256 << 20) {
        case .success(let read): bytes = read
        case .failure(let errno): throw .unreadable(path: jsonPath, reason: errno.description)
        }
        do {
            return try ReportDocument.decode(bytes)
        } catch {
            throw .notAReport(path: jsonPath, reason: "\(error)")
        }
    }

    /// The HTML page of the report at `jsonPath`.
    static func html(jsonPath: String) throws(ShowError) -> String {
        HTMLReport(document: try document(jsonPath: jsonPath)).render()
    }

    /// The text log; with `allThreads`, its thread listing replaced by one with every thread in
    /// full, rendered from the JSON report (the rest of the log is as written).
    static func text(_ resolved: ReportReference.Resolved, allThreads: Bool) throws(ShowError) -> String {
        let log = resolved.textPath.flatMap { ProcFile.readText($0, limit: 256 << 20) }
        guard allThreads else {
            guard let log else { throw .noTextLog(jsonPath: resolved.jsonPath) }
            return log
        }
        let document = try document(jsonPath: resolved.jsonPath)
        var report = CrashReport(pid: document.process.pid, executable: document.process.executable ?? "?", commandLine: [],
                                 hostTriplet: nil, time: 0, fault: nil)
        report.threads = document.threads.map(\.threadReport)
        let listing = CrashLogWriter(report: report, helperVersion: InvokerCommand.version, layout: log.map(ThreadListing.layout),
                                     groupThreads: false).renderThreadListing()
        guard let log else { return listing }
        return ThreadListing.replace(in: log, with: listing)
    }
}

/// Finds the thread listing in a text log, to replace it.
enum ThreadListing {
    static let starts = ["Crashing Thread (", "Other Non-Crashing Threads:", "Thread (TID ", "Unable to retrieve backtrace"]
    static let ends = ["Global Variables:", "Process Status:"]

    /// Whether a thread heading of traffic_crashlog 9.x's layout ("Thread 6489, [TS_MAIN]:").
    static func isATS9Heading(_ line: Substring) -> Bool {
        line.hasPrefix("Thread ") && line.dropFirst("Thread ".count).first?.isNumber == true
    }

    /// The layout a log was written in: 9.x's when its threads have 9.x's headings.
    static func layout(of log: String) -> LogLayout {
        log.split(separator: "\n").contains(where: isATS9Heading) ? .ats9 : .ats10
    }

    /// `log` with the lines from the first thread heading up to the section after the threads
    /// replaced by `listing`; if the log has no recognizable listing, `listing` is appended.
    static func replace(in log: String, with listing: String) -> String {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { line in starts.contains { line.hasPrefix($0) } || isATS9Heading(line) }),
              let end = lines[start...].firstIndex(where: { line in ends.contains(String(line)) }) else {
            return log + (log.hasSuffix("\n") ? "" : "\n") + "\nAll Threads:\n" + listing
        }
        return lines[..<start].joined(separator: "\n") + "\n" + listing + lines[end...].joined(separator: "\n")
    }
}
