// LogDirectory: where crash logs go, found the way Traffic Server finds its log directory:
//   1. --log-dir (ours);
//   2. PROXY_CONFIG_LOG_LOGFILE_DIR, the environment override ATS applies to records.config;
//   3. the run root's runroot.yaml `logdir` (--runroot, or TS_RUNROOT);
//   4. `CONFIG proxy.config.log.logfile_dir STRING …` in records.config (under TS_ROOT, else
//      Debian's /etc/trafficserver);
//   5. the layout default, /var/log/trafficserver (Debian's), if it exists;
//   6. else the current directory.
// Relative paths resolve against TS_ROOT (or /) as ATS resolves them against its prefix.

//
// Reports are written relative to a descriptor of the directory opened one component at a time
// with O_NOFOLLOW (`open()`): a symbolic link anywhere on the path is refused, so whoever owns a
// directory on the way cannot point the reports into another one.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import SystemPackage
import TracerKit

struct LogDirectory {
    var path: String
    /// How the path was chosen ("records.config", "--log-dir", …).
    var source: String
    /// A warning for the operator when the directory is not usable.
    var problem: String?

    static func resolve(explicit: String?, runroot: String?, environment: EnvironmentVariables = .process) -> LogDirectory {
        let prefix = environment["TS_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : (prefix == "/" ? "/" : prefix + "/") + path }
        var chosen: LogDirectory
        if let explicit {
            chosen = LogDirectory(path: explicit, source: "--log-dir")
        } else if let value = environment["PROXY_CONFIG_LOG_LOGFILE_DIR"], !value.isEmpty {
            chosen = LogDirectory(path: absolute(value), source: "PROXY_CONFIG_LOG_LOGFILE_DIR")
        } else if let root = runroot ?? environment["TS_RUNROOT"], let dir = runrootLogDirectory(root) {
            chosen = LogDirectory(path: dir, source: "runroot.yaml")
        } else if let dir = recordsConfigLogDirectory(prefix: prefix) {
            chosen = LogDirectory(path: absolute(dir), source: "records.config")
        } else if isDirectory("/var/log/trafficserver") {
            chosen = LogDirectory(path: "/var/log/trafficserver", source: "default")
        } else {
            chosen = LogDirectory(path: currentDirectory(), source: "current directory")
        }
        chosen.problem = usabilityProblem(chosen)
        return chosen
    }

    /// Where a live snapshot goes: the given directory, else the current one.
    static func forSnapshot(explicit: String?) -> LogDirectory {
        var chosen = LogDirectory(path: explicit ?? currentDirectory(), source: explicit == nil ? "current directory" : "--output")
        chosen.problem = usabilityProblem(chosen)
        return chosen
    }

    /// Opens the directory for writing relative to it: every component with O_NOFOLLOW, so a
    /// symbolic link anywhere on the path is refused. Returns the descriptor or a sentence.
    func open() -> Result<FileDescriptor, LogDirectoryError> {
        var current = Glibc.open(path.hasPrefix("/") ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard current >= 0 else { return .failure(LogDirectoryError(path: path, reason: .cannotOpen(path, Errno(rawValue: errno)))) }
        var walked = path.hasPrefix("/") ? "" : "."
        let steps = Directories.components(of: path)
        for (index, component) in steps.enumerated() {
            walked += "/" + component
            // On the way: O_PATH (search permission is enough); the directory itself: readable.
            let access = index == steps.count - 1 ? O_RDONLY : ivk_o_path()
            let next = openat(current, component, access | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            close(current)
            guard next >= 0 else {
                var info = stat()
                let isLink = code == ELOOP || code == ENOTDIR && lstat(walked, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
                return .failure(LogDirectoryError(path: path, reason: isLink ? .symbolicLink(walked) : .cannotOpen(walked, Errno(rawValue: code))))
            }
            current = next
        }
        return .success(FileDescriptor(rawValue: current))
    }

    static func usabilityProblem(_ chosen: LogDirectory) -> String? {
        if case .failure(let error) = chosen.open(), case .symbolicLink = error.reason {
            return "\(error) (from \(chosen.source)); a report would go to standard error and syslog."
        }
        if !isDirectory(chosen.path) {
            return "The report directory \(chosen.path) (from \(chosen.source)) does not exist; a report would go to standard error and syslog."
        }
        if access(chosen.path, W_OK) != 0 {
            return "The report directory \(chosen.path) (from \(chosen.source)) is not writable; a report would go to standard error and syslog."
        }
        return nil
    }

    /// `logdir:` of RUNROOT/runroot.yaml (a flat key: value map), resolved against the run root.
    static func runrootLogDirectory(_ root: String) -> String? {
        let file = root.hasSuffix(".yaml") ? root : root + "/runroot.yaml"
        let base = root.hasSuffix(".yaml") ? String(root[..<(root.lastIndex(of: "/") ?? root.startIndex)]) : root
        guard let text = ProcFile.readText(file, limit: 64 * 1024) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingWhitespace() == "logdir" else { continue }
            let value = parts[1].trimmingWhitespace()
            return value.hasPrefix("/") ? value : base + "/" + value
        }
        return nil
    }

    /// The value of proxy.config.log.logfile_dir in records.config, if set.
    static func recordsConfigLogDirectory(prefix: String) -> String? {
        let candidates = prefix == "/" ? ["/etc/trafficserver/records.config"]
            : ["\(prefix)/etc/trafficserver/records.config", "/etc/trafficserver/records.config"]
        for file in candidates {
            guard let text = ProcFile.readText(file, limit: 4 << 20) else { continue }
            if let value = logfileDirectory(inRecordsConfig: text) { return value }
        }
        return nil
    }

    /// The value of the first `CONFIG proxy.config.log.logfile_dir TYPE VALUE` line of a
    /// records.config. This runs on the parked start-up path: the text is searched as bytes for
    /// the key and only the lines that hold it are split into words. Debian's records.config is
    /// 11 KB, mostly comments, and names no log directory; splitting each of its lines into words
    /// was more than a third of the helper's instructions from exec to the park.
    static func logfileDirectory(inRecordsConfig text: String) -> String? {
        let key = "proxy.config.log.logfile_dir".utf8
        let newline = UInt8(ascii: "\n"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), ret = UInt8(ascii: "\r")
        var text = text
        return text.withUTF8 { bytes -> String? in
            var from = 0
            while let at = bytes[from...].firstIndex(of: key.first!) {
                from = at + 1
                guard bytes.count - at >= key.count, bytes[at..<at + key.count].elementsEqual(key) else { continue }
                let start = bytes[..<at].lastIndex(of: newline).map { $0 + 1 } ?? 0
                let end = bytes[at...].firstIndex(of: newline) ?? bytes.count
                let words = bytes[start..<end].split(whereSeparator: { $0 == space || $0 == tab || $0 == ret })
                if words.count >= 4, words[0].elementsEqual("CONFIG".utf8), words[1].elementsEqual(key) {
                    return String(decoding: words[3], as: UTF8.self)
                }
                from = end
            }
            return nil
        }
    }

    static func currentDirectory() -> String {
        ProcFile.readLink("/proc/self/cwd") ?? "."
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The whole environment, by name.
    static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        return result
    }
}

/// Why the report directory could not be opened.
struct LogDirectoryError: Error, CustomStringConvertible {
    enum Reason {
        case symbolicLink(String)
        case cannotOpen(String, Errno)
    }
    var path: String
    var reason: Reason

    var description: String {
        switch reason {
        case .symbolicLink(let component):
            "The report directory \(path) has a symbolic link on its path (\(component)); reports are never written through one: configure the real path"
        case .cannotOpen(let component, let errno):
            "cannot open the report directory \(path) (at \(component)): \(errno.sentence)"
        }
    }
}
