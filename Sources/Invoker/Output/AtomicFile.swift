// AtomicFile: writes a report so that a reader sees either nothing or the whole file, in a
// directory given as an open descriptor (LogDirectory.open: no symbolic link on its path), so
// nothing the directory's owner renames or links can redirect it.
//
// The file is created unnamed (O_TMPFILE), written, synced, then linked in under its final name
// with linkat, which never replaces an existing name; where the filesystem has no O_TMPFILE, a
// temporary name with 64 random bits (created O_EXCL|O_NOFOLLOW) is renamed with
// RENAME_NOREPLACE instead. Neither leaves a name anyone can guess in advance, and the final name
// cannot run out: after NAME and NAME-1…NAME-9 come names with 64 random bits.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import SystemPackage

enum AtomicFile {
    /// Where temporary files of ours start and end: `.NAME.RANDOM.tmp` (pruned when stale).
    static let temporarySuffix = ".tmp"

    /// Writes `content` as a new file `name` in `directory` (its path: `directoryPath`, for
    /// messages) with `mode`; if the name is taken, another (see above). Returns the name used.
    static func write(_ content: some Collection<UInt8>, in directory: FileDescriptor, directoryPath: String, name: String,
                      mode: mode_t) -> Result<String, AtomicFileError> {
        let (stem, ext) = split(name)
        var candidates = [name] + (1...9).map { "\(stem)-\($0)\(ext)" }
        for _ in 0..<64 { candidates.append("\(stem)-\(randomHex())\(ext)") }

        if let fd = try? unnamedFile(in: directory, mode: mode) {
            defer { try? fd.close() }
            if let failure = fill(fd, with: content, path: directoryPath + "/" + name) { return .failure(failure) }
            // linkat(2) of /proc/self/fd/N: AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH.
            let source = "/proc/self/fd/\(fd.rawValue)"
            for candidate in candidates {
                if linkat(AT_FDCWD, source, directory.rawValue, candidate, AT_SYMLINK_FOLLOW) == 0 { return .success(candidate) }
                if errno != EEXIST { break }  // no /proc, or another reason: try the named way
            }
        }
        let temporary: String
        switch namedTemporary(content, in: directory, directoryPath: directoryPath, name: name, mode: mode) {
        case .success(let value): temporary = value
        case .failure(let failure): return .failure(failure)
        }
        for candidate in candidates {
            if ivk_renameat_noreplace(directory.rawValue, temporary, directory.rawValue, candidate) == 0 { return .success(candidate) }
            if errno != EEXIST {
                let error = AtomicFileError(operation: "rename to \(directoryPath)/\(candidate)", errno: Errno(rawValue: errno))
                unlinkat(directory.rawValue, temporary, 0)
                return .failure(error)
            }
        }
        unlinkat(directory.rawValue, temporary, 0)
        return .failure(AtomicFileError(operation: "find a free name for \(name)", errno: .fileExists))
    }

    /// Atomically replaces our own file `name` (written earlier in this run) with `content`.
    static func replace(_ name: String, in directory: FileDescriptor, directoryPath: String, with content: some Collection<UInt8>,
                        mode: mode_t) -> Result<String, AtomicFileError> {
        let temporary: String
        switch namedTemporary(content, in: directory, directoryPath: directoryPath, name: name, mode: mode) {
        case .success(let value): temporary = value
        case .failure(let failure): return .failure(failure)
        }
        guard renameat(directory.rawValue, temporary, directory.rawValue, name) == 0 else {
            let error = AtomicFileError(operation: "rename \(temporary) to \(directoryPath)/\(name)", errno: Errno(rawValue: errno))
            unlinkat(directory.rawValue, temporary, 0)
            return .failure(error)
        }
        return .success(name)
    }

    /// `write(_:in:directoryPath:name:mode:)` for a directory given by path (opened as it is:
    /// report directories go through LogDirectory.open, which refuses symbolic links). Returns
    /// the final path.
    static func write(_ content: some Collection<UInt8>, directory: String, name: String, mode: mode_t) -> Result<String, AtomicFileError> {
        let opened: FileDescriptor
        switch openDirectory(directory) {
        case .success(let fd): opened = fd
        case .failure(let error): return .failure(error)
        }
        defer { try? opened.close() }
        return write(content, in: opened, directoryPath: directory, name: name, mode: mode).map { directory + "/" + $0 }
    }

    /// Atomically replaces (or creates) the file at `path`, a path a user gave (`invoker show -o`).
    static func replace(_ path: String, with content: some Collection<UInt8>, mode: mode_t) -> Result<String, AtomicFileError> {
        let slash = path.lastIndex(of: "/")
        let directoryPath = slash.map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let directory: FileDescriptor
        switch openDirectory(directoryPath) {
        case .success(let fd): directory = fd
        case .failure(let error): return .failure(error)
        }
        defer { try? directory.close() }
        return replace(name, in: directory, directoryPath: directoryPath, with: content, mode: mode).map { _ in path }
    }

    /// The directory at `path`, opened to write relative to it.
    private static func openDirectory(_ path: String) -> Result<FileDescriptor, AtomicFileError> {
        do {
            return .success(try FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec], retryOnInterrupt: true))
        } catch {
            return .failure(AtomicFileError(operation: "open \(path)", errno: error as? Errno ?? .ioError))
        }
    }

    /// An unnamed file in `directory` (O_TMPFILE), or nil where the filesystem has none.
    private static func unnamedFile(in directory: FileDescriptor, mode: mode_t) throws -> FileDescriptor {
        let fd = ivk_open_tmpfile(directory.rawValue, mode)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        return FileDescriptor(rawValue: fd)
    }

    /// `.NAME.RANDOM.tmp`, created exclusively (never through a symbolic link), written and synced.
    private static func namedTemporary(_ content: some Collection<UInt8>, in directory: FileDescriptor, directoryPath: String, name: String,
                                       mode: mode_t) -> Result<String, AtomicFileError> {
        for _ in 0..<16 {
            let temporary = ".\(name).\(randomHex())\(temporarySuffix)"
            let fd = openat(directory.rawValue, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if fd < 0 && errno == EEXIST { continue }
            guard fd >= 0 else {
                return .failure(AtomicFileError(operation: "create \(directoryPath)/\(temporary)", errno: Errno(rawValue: errno)))
            }
            let file = FileDescriptor(rawValue: fd)
            let failure = fill(file, with: content, path: directoryPath + "/" + temporary)
            try? file.close()
            if let failure {
                unlinkat(directory.rawValue, temporary, 0)
                return .failure(failure)
            }
            return .success(temporary)
        }
        return .failure(AtomicFileError(operation: "create a temporary file for \(name)", errno: .fileExists))
    }

    /// Writes (FileDescriptor.writeAll: short writes and EINTR retried) and syncs.
    private static func fill(_ fd: FileDescriptor, with content: some Collection<UInt8>, path: String) -> AtomicFileError? {
        do {
            _ = try fd.writeAll(content)
        } catch {
            return AtomicFileError(operation: "write \(path)", errno: (error as? Errno) ?? .ioError)
        }
        if fsync(fd.rawValue) != 0 { return AtomicFileError(operation: "fsync \(path)", errno: Errno(rawValue: errno)) }
        return nil
    }

    /// 16 hex digits from the system's random source.
    static func randomHex() -> String {
        let digits = String(UInt64.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private static func split(_ name: String) -> (String, String) {
        guard let dot = name.lastIndex(of: ".") else { return (name, "") }
        return (String(name[..<dot]), String(name[dot...]))
    }
}

struct AtomicFileError: Error, CustomStringConvertible {
    var operation: String
    var errno: Errno
    var description: String { "cannot \(operation): \(errno.sentence)" }
}
