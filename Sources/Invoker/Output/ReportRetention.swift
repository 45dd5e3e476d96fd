// ReportRetention: keeps the report directory to the configured number of reports. A report is
// its base name's .log, .json and kept .core.gz together (any alone counts too: an orphan .json of a crash
// whose log was pruned is pruned in turn); reports are ordered by modification time, newest
// first, never by name (a planted crash-9999-… name, or one written while the clock was ahead,
// must not push out this run's report), and this run's files are never deleted. Temporary files
// of ours (.PREFIX-….tmp) that a killed writer left are removed once they are a minute old.
// Everything is done relative to the directory's descriptor, and only regular files are touched.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

struct ReportRetention {
    let directory: FileDescriptor
    let prefix: String
    /// Reports to keep, this run's included; 0 keeps all.
    let keep: Int
    /// A core `invoker core` kept beside its report (keep_core) goes with it.
    static let keptCoreSuffix = ".core.gz"
    /// A temporary file older than this was left by a writer that is gone.
    static let staleTemporarySeconds = 60

    /// Prunes, never deleting the names in `sparing` (this run's report).
    func prune(sparing: [String]) {
        let now = time(nil)
        var reports: [String: (mtime: Int, names: [String])] = [:]
        for name in entries() {
            guard let info = regularFileInfo(name) else { continue }
            if name.hasPrefix("." + prefix + "-") && name.hasSuffix(AtomicFile.temporarySuffix) {
                if info.st_uid == geteuid() && Int(now) - Int(info.st_mtim.tv_sec) > Self.staleTemporarySeconds {
                    unlinkat(directory.rawValue, name, 0)
                }
                continue
            }
            guard keep > 0, name.hasPrefix(prefix + "-") else { continue }
            let base: Substring
            if name.hasSuffix(".log") { base = name.dropLast(4) } else if name.hasSuffix(".json") { base = name.dropLast(5) }
            else if name.hasSuffix(Self.keptCoreSuffix) { base = name.dropLast(Self.keptCoreSuffix.count) } else { continue }
            let entry = reports[String(base), default: (0, [])]
            reports[String(base)] = (max(entry.mtime, Int(info.st_mtim.tv_sec)), entry.names + [name])
        }
        guard keep > 0 else { return }
        let spared = Set(sparing)
        let others = reports.values.filter { $0.names.allSatisfy { !spared.contains($0) } }
            .sorted { ($0.mtime, $0.names.max() ?? "") > ($1.mtime, $1.names.max() ?? "") }
        for report in others.dropFirst(max(keep - 1, 0)) {
            for name in report.names { unlinkat(directory.rawValue, name, 0) }
        }
    }

    /// The directory's entry names.
    private func entries() -> [String] {
        let fd = openat(directory.rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private func regularFileInfo(_ name: String) -> stat? {
        var info = stat()
        guard fstatat(directory.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return info
    }
}
