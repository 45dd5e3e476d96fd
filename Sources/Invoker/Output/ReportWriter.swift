// ReportWriter: puts reports on disk: one file per configured format (ReportFormat, each rendered
// by its ReportFormatter), PREFIX-%Y-%m-%d-%H%M%S.log and .json (mode 0400) in the output
// directory, written atomically relative to the directory's descriptor (AtomicFile,
// LogDirectory); an early version before external tracers run, replaced by the final one; old
// reports pruned to the configured retention (ReportRetention). When the directory cannot be
// written, the whole report goes to standard error and syslog, so it is never lost silently.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemPackage
import TracerKit

/// Where a report was written: each configured format's file, same base name.
struct ReportLocation {
    var paths: [ReportFormat: String] = [:]

    var textPath: String? { paths[.text] }
    var jsonPath: String? { paths[.json] }
    /// The report a tracer's %r names: the text log, or the JSON report when there is no text log.
    var reportPath: String? { textPath ?? jsonPath }
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

    /// The configured formats in the order their files are written: the first claims the name.
    var orderedFormats: [ReportFormat] { ReportFormat.allCases.filter(formats.contains) }

    /// The path the text log will get if nothing else claims it first (the crash guard writes
    /// its text there whatever the formats: a crash of ours is worth a log).
    var plannedTextPath: String { directory.path + "/" + baseName + ReportFormat.text.fileExtension }

    /// The path the report a tracer's %r names will get: the first configured format's.
    var plannedReportPath: String { directory.path + "/" + baseName + (orderedFormats.first ?? .text).fileExtension }

    /// `plannedTextPath` before a writer exists (the crash guard's report).
    static func plannedTextPath(directory: LogDirectory, prefix: String, time: Int) -> String {
        ReportWriter(directory: directory, formats: [.text], retention: 0, prefix: prefix, time: time,
                     logger: Logger(label: "invoker")).plannedTextPath
    }

    /// What the formatters are made with: the report's kind is its prefix ("crash", "snapshot").
    var formatOptions: ReportFormatOptions {
        ReportFormatOptions(kind: prefix, helperVersion: InvokerCommand.version, layout: layout, groupThreads: groupThreads)
    }

    /// The report in one format, by that format's formatter.
    func render(_ format: ReportFormat, _ report: CrashReport) -> String {
        format.formatter(formatOptions).render(report)
    }

    /// The report file's bytes in one format.
    func content(_ format: ReportFormat, _ report: CrashReport) -> [UInt8] {
        format.formatter(formatOptions).renderBytes(report)
    }

    /// Writes the report as it stands, to claim its name; nil if the directory is unusable.
    func writeEarly(_ report: CrashReport) -> ReportLocation? {
        guard case .success(let fd) = directory.open() else { return nil }
        defer { try? fd.close() }
        var location = ReportLocation()
        var stem: String? = nil
        for format in orderedFormats {
            let name = (stem ?? baseName) + format.fileExtension
            switch AtomicFile.write(content(format, report), in: fd, directoryPath: directory.path, name: name, mode: 0o400) {
            case .success(let written):
                stem = stem ?? String(written.dropLast(format.fileExtension.count))
                location.paths[format] = directory.path + "/" + written
            case .failure:
                if stem == nil { return nil }
            }
        }
        return location
    }

    private static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// Writes the final report (replacing the early one, if any), in every configured format.
    /// Returns where, or nil if the first format's file could not be written and the report went
    /// to standard error and syslog instead.
    func writeFinal(_ report: CrashReport, replacing early: ReportLocation?) -> ReportLocation? {
        let opened = directory.open()
        defer { if case .success(let fd) = opened { try? fd.close() } }
        var failure = ""
        var written: [String] = []
        var location = ReportLocation()
        switch opened {
        case .failure(let error):
            failure = AtomicFileError(operation: "open the directory (\(error))", errno: .notDirectory).description
        case .success(let fd):
            var stem: String? = nil
            for format in orderedFormats {
                let bytes = content(format, report)
                let result = if let earlyPath = early?.paths[format] {
                    AtomicFile.replace(Self.fileName(earlyPath), in: fd, directoryPath: directory.path, with: bytes, mode: 0o400)
                } else {
                    AtomicFile.write(bytes, in: fd, directoryPath: directory.path, name: (stem ?? baseName) + format.fileExtension, mode: 0o400)
                }
                switch result {
                case .success(let name):
                    stem = stem ?? String(name.dropLast(format.fileExtension.count))
                    written.append(name)
                    location.paths[format] = directory.path + "/" + name
                case .failure(let error) where written.isEmpty:
                    failure = error.description
                case .failure(let error):
                    logger.error("cannot write the \(format.rawValue) report: \(error)")
                }
                if written.isEmpty { break }
            }
            if let first = written.first {
                let path = directory.path + "/" + first
                // A crash log is news for whoever watches syslog; a snapshot someone asked for is not.
                if prefix == "snapshot" { logger.info("wrote snapshot report to \(path)") } else { logger.error("wrote crash log to \(path)") }
                ReportRetention(directory: fd, prefix: prefix, keep: retention).prune(sparing: written)
                return location
            }
        }
        let text = render(.text, report)
        let reason = "cannot write the crash log to \(directory.path): \(failure); the log follows on standard error and in syslog"
        logger.critical("\(reason)")
        FileDescriptor.standardError.writeAllIgnoringErrors("invoker: " + reason + "\n" + text)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            logger.critical("\(line)")
        }
        return nil
    }
}

extension FileDescriptor {
    func writeAllIgnoringErrors(_ text: String) {
        var bytes = Array(text.utf8)
        _ = try? bytes.withUnsafeMutableBytes { try writeAll(UnsafeRawBufferPointer($0)) }
    }
}
