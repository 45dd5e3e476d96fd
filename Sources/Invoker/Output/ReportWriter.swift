// ReportWriter: puts reports on disk: PREFIX-%Y-%m-%d-%H%M%S.log (mode 0400) in the output
// directory, written atomically relative to the directory's descriptor (AtomicFile, LogDirectory);
// an early version before external tracers run, replaced by the final one; old reports pruned to
// the configured retention (ReportRetention). When the directory cannot be
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
        guard case .success(let fd) = directory.open() else { return nil }
        defer { try? fd.close() }
        let text = CrashLogWriter(report: report, helperVersion: InvokerCommand.version, layout: layout, groupThreads: groupThreads).render()
        guard case .success(let name) = AtomicFile.write(text, in: fd, directoryPath: directory.path, name: baseName + ".log", mode: 0o400)
        else { return nil }
        var location = ReportLocation(textPath: directory.path + "/" + name)
        if formats.contains(.json), case .success(let json) = AtomicFile.write(
            jsonText(report), in: fd, directoryPath: directory.path, name: jsonName(forTextName: name), mode: 0o400) {
            location.jsonPath = directory.path + "/" + json
        }
        return location
    }

    /// The JSON report's file name: the text log's, with .json for .log.
    private func jsonName(forTextName name: String) -> String {
        String(name.dropLast(".log".count)) + ".json"
    }

    private static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    private func jsonText(_ report: CrashReport) -> String {
        JSONReportWriter(report: report, kind: prefix, helperVersion: InvokerCommand.version).render()
    }

    /// Writes the final report (replacing the early one, if any). Returns where, or nil if it had
    /// to fall back to standard error and syslog.
    func writeFinal(_ report: CrashReport, replacing early: ReportLocation?) -> ReportLocation? {
        let text = CrashLogWriter(report: report, helperVersion: InvokerCommand.version, layout: layout, groupThreads: groupThreads).render()
        let result: Result<String, AtomicFileError>
        let opened = directory.open()
        switch opened {
        case .failure(let error):
            result = .failure(AtomicFileError(operation: "open the directory (\(error))", errno: .notDirectory))
        case .success(let fd):
            if let early {
                result = AtomicFile.replace(Self.fileName(early.textPath), in: fd, directoryPath: directory.path, with: text, mode: 0o400)
            } else {
                result = AtomicFile.write(text, in: fd, directoryPath: directory.path, name: baseName + ".log", mode: 0o400)
            }
        }
        defer { if case .success(let fd) = opened { try? fd.close() } }
        switch (result, opened) {
        case (.success(let name), .success(let fd)):
            var jsonName: String? = nil
            if formats.contains(.json) {
                let json = jsonText(report)
                let written = early?.jsonPath.map { AtomicFile.replace(Self.fileName($0), in: fd, directoryPath: directory.path, with: json, mode: 0o400) }
                    ?? AtomicFile.write(json, in: fd, directoryPath: directory.path, name: self.jsonName(forTextName: name), mode: 0o400)
                switch written {
                case .success(let written): jsonName = written
                case .failure(let failure): logger.error("cannot write the JSON report: \(failure)")
                }
            }
            let path = directory.path + "/" + name
            // A crash log is news for whoever watches syslog; a snapshot someone asked for is not.
            if prefix == "snapshot" { logger.info("wrote snapshot report to \(path)") } else { logger.error("wrote crash log to \(path)") }
            ReportRetention(directory: fd, prefix: prefix, keep: retention).prune(sparing: [name, jsonName].compactMap { $0 })
            return ReportLocation(textPath: path, jsonPath: jsonName.map { directory.path + "/" + $0 })
        default:
            let failure = if case .failure(let failure) = result { failure.description } else { "?" }
            let reason = "cannot write the crash log to \(directory.path): \(failure); the log follows on standard error and in syslog"
            logger.critical("\(reason)")
            FileDescriptor.standardError.writeAllIgnoringErrors("invoker: " + reason + "\n" + text)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                logger.critical("\(line)")
            }
            return nil
        }
    }
}

extension FileDescriptor {
    func writeAllIgnoringErrors(_ text: String) {
        var bytes = Array(text.utf8)
        _ = try? bytes.withUnsafeMutableBytes { try writeAll(UnsafeRawBufferPointer($0)) }
    }
}
