// SectionBuilder: collects the fields of a report section from small /proc and /sys files, each
// read bounded in size; a file that cannot be read becomes a sentence in the section's problems,
// never a failure.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

/// Builds one ReportSection.
struct SectionBuilder {
    var section: ReportSection

    init(id: String, title: String) { section = ReportSection(id: id, title: title) }

    mutating func add(_ key: String, _ value: FieldValue?, flag: String? = nil) {
        if let value { section.fields.append(Field(key, value, flag: flag)) }
    }

    mutating func note(_ problem: String) { section.problems.append(problem) }

    /// The text of a small file, or nil with a problem noted.
    mutating func read(_ path: String, limit: Int = 64 * 1024, what: String? = nil) -> String? {
        switch ProcFile.readBytes(path, limit: limit) {
        case .success(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .failure(let error):
            if error != .noSuchFileOrDirectory { note("\(what ?? path): cannot read \(path): \(error.sentence)") }
            return nil
        }
    }

    /// "Key: value kB" lines (meminfo, status) as a dictionary of first numbers.
    static func numbers(in text: String) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            if let value, let number = Int64(value) { result[String(line[..<colon])] = number }
        }
        return result
    }

    /// Free and total space of the file system holding `path`.
    static func diskSpace(_ path: String) -> FieldValue? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        let block = Int64(info.f_frsize)
        let total = Int64(info.f_blocks) * block, available = Int64(info.f_bavail) * block
        return .group([Field("path", .text(path)), Field("total_bytes", .integer(total)),
                       Field("available_bytes", .integer(available)),
                       Field("used_percent", .integer(total > 0 ? (total - available) * 100 / total : 0))])
    }
}
