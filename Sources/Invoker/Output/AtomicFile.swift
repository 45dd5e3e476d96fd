// AtomicFile: writes a report so that a reader sees either nothing or the whole file: a temporary
// file created exclusively (never following a symbolic link), written, synced, then renamed into
// place without replacing anything already there.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import SystemPackage

enum AtomicFile {
    /// Writes `text` to DIRECTORY/NAME with `mode`. If NAME exists (two crashes in one second), a
    /// numeric suffix is added before the extension. Returns the final path, or the failure as a
    /// sentence.
    static func write(_ text: String, directory: String, name: String, mode: mode_t) -> Result<String, AtomicFileError> {
        let temporary = "\(directory)/.\(name).\(getpid()).tmp"
        if let failure = writeTemporary(text, to: temporary, mode: mode) { return .failure(failure) }
        let (stem, ext) = split(name)
        for attempt in 0..<100 {
            let candidate = attempt == 0 ? "\(directory)/\(name)" : "\(directory)/\(stem)-\(attempt)\(ext)"
            if ivk_rename_noreplace(temporary, candidate) == 0 { return .success(candidate) }
            if errno != EEXIST {
                let error = AtomicFileError(operation: "rename to \(candidate)", errno: Errno(rawValue: errno))
                unlink(temporary)
                return .failure(error)
            }
        }
        unlink(temporary)
        return .failure(AtomicFileError(operation: "find a free name for \(name)", errno: .fileExists))
    }

    /// Atomically replaces our own file at `path` (written earlier in this run) with `text`.
    static func replace(_ path: String, with text: String, mode: mode_t) -> Result<String, AtomicFileError> {
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let directory = String(path[..<slash]), name = String(path[path.index(after: slash)...])
        let temporary = "\(directory)/.\(name).\(getpid()).final.tmp"
        if let failure = writeTemporary(text, to: temporary, mode: mode) { return .failure(failure) }
        guard rename(temporary, path) == 0 else {
            let error = AtomicFileError(operation: "rename \(temporary) to \(path)", errno: Errno(rawValue: errno))
            unlink(temporary)
            return .failure(error)
        }
        return .success(path)
    }

    /// Creates `temporary` exclusively (never through a symbolic link), writes and syncs it.
    private static func writeTemporary(_ text: String, to temporary: String, mode: mode_t) -> AtomicFileError? {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { return AtomicFileError(operation: "create \(temporary)", errno: Errno(rawValue: errno)) }
        var failure: AtomicFileError? = nil
        var bytes = Array(text.utf8)
        do {
            try bytes.withUnsafeMutableBytes { _ = try FileDescriptor(rawValue: fd).writeAll(UnsafeRawBufferPointer($0)) }
            if fsync(fd) != 0 { failure = AtomicFileError(operation: "fsync \(temporary)", errno: Errno(rawValue: errno)) }
        } catch {
            failure = AtomicFileError(operation: "write \(temporary)", errno: (error as? Errno) ?? .ioError)
        }
        close(fd)
        if failure != nil { unlink(temporary) }
        return failure
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
