// ReportReference: which report `invoker show` means: `latest` (the newest report in the output
// directory), a report's name there ("crash-2026-12-03-083700"), or the path of its JSON or text
// file. Resolving gives the JSON report's path and the text log's beside it, if any; reading and
// rendering are separate steps.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

enum ReportReference: Equatable {
    case latest
    /// A report's base name in the output directory.
    case name(String)
    /// A path to a .json or .log file.
    case path(String)
    /// A report's id in the crash store (`invoker list`).
    case id(Int64)
    /// A fingerprint ("fp1:…", a prefix is enough): its group's latest report, from the crash store.
    case fingerprint(String)

    init(_ argument: String) {
        if argument == "latest" { self = .latest }
        else if let id = Int64(argument) { self = .id(id) }
        else if argument.hasPrefix(Fingerprint.rule + ":") { self = .fingerprint(argument) }
        else if argument.contains("/") || argument.hasSuffix(".json") || argument.hasSuffix(".log") { self = .path(argument) }
        else { self = .name(argument) }
    }

    /// A report's files.
    struct Resolved: Equatable {
        var jsonPath: String
        /// The text log of the same base name, when there is one.
        var textPath: String?
    }

    /// The files of the report meant, looking in `directory` for `latest` and names.
    func resolve(in directory: String) throws(ShowError) -> Resolved {
        let base: String
        switch self {
        case .latest:
            let reports = ProcFile.entries(of: directory).filter(Self.isReportJSON)
            guard let newest = reports.max(by: { Self.order(directory, $0) < Self.order(directory, $1) }) else {
                throw .noReports(directory: directory)
            }
            base = directory + "/" + newest.dropLast(".json".count)
        case .name(let name):
            base = directory + "/" + name
        case .path(let path):
            base = path.hasSuffix(".json") ? String(path.dropLast(".json".count))
                : path.hasSuffix(".log") ? String(path.dropLast(".log".count)) : path
        case .id, .fingerprint:
            let indexed = try StoreLookup.report(self, in: directory)
            base = String(indexed.textPath.dropLast(".log".count))
        }
        guard access(base + ".json", R_OK) == 0 else {
            throw .unreadable(path: base + ".json", reason: String(cString: strerror(errno)))
        }
        return Resolved(jsonPath: base + ".json", textPath: access(base + ".log", R_OK) == 0 ? base + ".log" : nil)
    }

    /// crash-*.json and snapshot-*.json (not a temporary file being written).
    static func isReportJSON(_ name: String) -> Bool {
        (name.hasPrefix("crash-") || name.hasPrefix("snapshot-")) && name.hasSuffix(".json")
    }

    /// Newest last: by modification time, then by name (which holds the time to the second).
    private static func order(_ directory: String, _ name: String) -> (Int, Int, String) {
        var info = stat()
        guard stat(directory + "/" + name, &info) == 0 else { return (0, 0, name) }
        return (info.st_mtim.tv_sec, info.st_mtim.tv_nsec, name)
    }
}

/// Why `invoker show` could not show a report.
enum ShowError: Error, CustomStringConvertible {
    case noReports(directory: String)
    case unreadable(path: String, reason: String)
    case notAReport(path: String, reason: String)
    case noTextLog(jsonPath: String)
    /// An id or fingerprint the crash store could not answer (no store, no match, several).
    case notIndexed(reason: String)
    case cannotWrite(path: String, reason: String)

    var description: String {
        switch self {
        case .noReports(let directory):
            "no report (crash-*.json or snapshot-*.json) in \(directory); name the directory with --log-dir or the file itself"
        case .unreadable(let path, let reason):
            "cannot read the report \(path): \(reason)"
        case .notAReport(let path, let reason):
            "\(path) is not an invoker JSON report: \(reason)"
        case .noTextLog(let jsonPath):
            "there is no text log beside \(jsonPath) (formats without \"text\"?); use --html, or --all-threads for the stacks alone"
        case .notIndexed(let reason):
            reason
        case .cannotWrite(let path, let reason):
            "cannot write \(path): \(reason)"
        }
    }
}
