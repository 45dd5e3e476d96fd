// ReportWriter: puts reports on disk: PREFIX-%Y-%m-%d-%H%M%S.log (mode 0400) in the output
// directory, written atomically; an early version before external tracers run, replaced by the
// final one; old reports pruned to the configured retention. When the directory cannot be
// written, the whole report goes to standard error and syslog, so it is never lost silently.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemPackage
import TracerKit

/// Where a report was written.
struct ReportLocation {
    var textPath: String
    /// The JSON report next to it (same base name), when that format is on.
    var jsonPath: String?
}

struct ReportWriter {
    let directory: LogDirectory
    let formats: [ReportFormat]
    let retention: Int
    let prefix: String
    let time: Int
    let logger: Logger
    /// The text log's thread layout; nil for the server's (log_layout = "auto").
    var layout: LogLayout? = nil
    /// Threads with identical stacks printed once in the text log (group_threads).
    var groupThreads = true

    var baseName: String { prefix + "-" + CrashLogWriter.format(time: time, "%Y-%m-%d-%H%M%S") }

    /// The path the text report will get if nothing else claims it first.
    var plannedTextPath: String { directory.path + "/" + baseName + ".log" }

    /// `plannedTextPath` before a writer exists (the crash guard's report).
    static func plannedTextPath(directory: LogDirectory, prefix: String, time: Int) -> String {
        ReportWriter(directory: directory, formats: [], retention: 0, prefix: prefix, time: time,
                     logger: Logger(label: "invoker")).plannedTextPath
    }

    /// Writes the report as it stands, to claim its name; nil if the directory is unusable.
    func writeEarly(_ report: CrashReport) -> ReportLocation? {
        let text = CrashLogWriter(report: report, helperVersion: InvokerCommand.version, layout: layout, groupThreads: groupThreads).render()
        guard case .success(let path) = AtomicFile.write(text, directory: directory.path, name: baseName + ".log", mode: 0o400)
        else { return nil }
        var location = ReportLocation(textPath: path)
        if formats.contains(.json), case .success(let json) = AtomicFile.write(
            jsonText(report), directory: directory.path, name: jsonName(forTextPath: path), mode: 0o400) {
            location.jsonPath = json
        }
        return location
    }

    /// The JSON report's file name: the text log's, with .json for .log.
    private func jsonName(forTextPath path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? baseName + ".log"
        return String(name.dropLast(".log".count)) + ".json"
    }

    private func jsonText(_ report: CrashReport) -> String {
        JSONReportWriter(report: report, kind: prefix, helperVersion: InvokerCommand.version).render()
    }

    /// Writes the final report (replacing the early one, if any). Returns where, or nil if it had
    /// to fall back to standard error and syslog.
    func writeFinal(_ report: CrashReport, replacing early: ReportLocation?) -> ReportLocation? {
        let text = CrashLogWriter(report: report, helperVersion: InvokerCommand.version, layout: layout, groupThreads: groupThreads).render()
        let result: Result<String, AtomicFileError>
        if let early {
            result = AtomicFile.replace(early.textPath, with: text, mode: 0o400)
        } else {
            result = AtomicFile.write(text, directory: directory.path, name: baseName + ".log", mode: 0o400)
        }
        switch result {
        case .success(let path):
            var location = ReportLocation(textPath: path)
            if formats.contains(.json) {
                let json = jsonText(report)
                let written = early?.jsonPath.map { AtomicFile.replace($0, with: json, mode: 0o400) }
                    ?? AtomicFile.write(json, directory: directory.path, name: jsonName(forTextPath: path), mode: 0o400)
                switch written {
                case .success(let jsonPath): location.jsonPath = jsonPath
                case .failure(let failure): logger.error("cannot write the JSON report: \(failure)")
                }
            }
            // A crash log is news for whoever watches syslog; a snapshot someone asked for is not.
            if prefix == "snapshot" { logger.info("wrote snapshot report to \(path)") } else { logger.error("wrote crash log to \(path)") }
            prune()
            return location
        case .failure(let failure):
            let reason = "cannot write the crash log to \(directory.path): \(failure); the log follows on standard error and in syslog"
            logger.critical("\(reason)")
            FileDescriptor.standardError.writeAllIgnoringErrors("invoker: " + reason + "\n" + text)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                logger.critical("\(line)")
            }
            return nil
        }
    }

    /// Deletes the oldest PREFIX-*.log files beyond `retention` (0 keeps all). The names sort by
    /// time, so the oldest come first.
    func prune() {
        guard retention > 0 else { return }
        let names = ProcFile.entries(of: directory.path).filter { $0.hasPrefix(prefix + "-") && $0.hasSuffix(".log") }.sorted()
        for name in names.dropLast(retention) {
            unlink(directory.path + "/" + name)
            unlink(directory.path + "/" + name.dropLast(".log".count) + ".json")
        }
    }

}

extension FileDescriptor {
    func writeAllIgnoringErrors(_ text: String) {
        var bytes = Array(text.utf8)
        _ = try? bytes.withUnsafeMutableBytes { try writeAll(UnsafeRawBufferPointer($0)) }
    }
}
