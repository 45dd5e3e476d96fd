// TrustedFile: opens a file that root will read (the configuration) or execute (a tracer) so that
// nobody but root can have chosen its content. The path is resolved once (realpath: symbolic links
// are followed, and the target is what gets checked), then walked from / one component at a time
// with O_NOFOLLOW, and every directory on the way must be owned by root and not writable by group
// or others, as sudo and OpenSSH require; the file itself must be a regular file owned by root and
// not writable by group or others. The caller reads or executes the descriptor it gets back
// (fexecve), so the file that was checked is the file that is used, whatever is renamed later.
//
// One relaxation: a root-owned directory with the sticky bit (/tmp) may be writable by others,
// because there only root can rename or remove the root-owned entry the walk continues into.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import SystemPackage
import TracerKit

enum TrustedFile {
    /// Why a file was refused.
    enum Refusal: Error, Equatable {
        /// The path (or a component of it) cannot be resolved or opened.
        case unavailable(path: String, errno: Errno)
        /// Not a regular file (a directory, a device, a FIFO…).
        case notRegularFile(path: String)
        /// The file itself belongs to someone else or others can write it.
        case unsafeFile(path: String, owner: uid_t, mode: mode_t)
        /// A directory on its path belongs to someone else or others can write it.
        case unsafeDirectory(file: String, directory: String, owner: uid_t, mode: mode_t)
        /// The path changed between its resolution and the walk (a component became a link).
        case changed(path: String)

        /// The file is not there (or not reachable): not a matter of trust.
        var isUnavailable: Bool { if case .unavailable = self { true } else { false } }

        /// "refusing PATH: …" as one sentence; `what` names the file ("a tracer", "a configuration").
        func sentence(_ what: String) -> String {
            switch self {
            case .unavailable(let path, let errno): "cannot open \(path): \(errno.sentence)"
            case .notRegularFile(let path): "refusing \(path): \(what) must be a regular file"
            case .unsafeFile(let path, let owner, let mode):
                "refusing \(path): running as root, \(what) must be owned by root and not writable by group or others (owner uid \(owner), mode \(String(mode & 0o777, radix: 8)))"
            case .unsafeDirectory(let file, let directory, let owner, let mode):
                "refusing \(file): running as root, every directory above \(what) must be owned by root and not writable by group or others, and \(directory) is not (owner uid \(owner), mode \(String(mode & 0o7777, radix: 8)))"
            case .changed(let path): "refusing \(path): its path changed while it was being checked"
            }
        }
    }

    /// Whether the ownership rules apply: only root can be made to run someone else's code.
    static var enforced: Bool { getuid() == 0 || geteuid() == 0 }

    /// The canonical path of `path` (symbolic links resolved), or the errno of the failure.
    static func resolve(_ path: String) -> Result<String, Errno> {
        guard let resolved = realpath(path, nil) else { return .failure(Errno(rawValue: errno)) }
        defer { free(resolved) }
        return .success(String(cString: resolved))
    }

    /// Opens `path` for reading (O_RDONLY, or ivk_o_path() when only execution is allowed), after the
    /// checks above when `enforce` is set. Returns the descriptor (close-on-exec) and the resolved
    /// path.
    static func open(_ path: String, enforce: Bool = enforced) -> Result<(FileDescriptor, String), Refusal> {
        let resolved: String
        switch resolve(path) {
        case .success(let value): resolved = value
        case .failure(let error): return .failure(.unavailable(path: path, errno: error))
        }
        let components = resolved.split(separator: "/").map(String.init)
        guard !components.isEmpty else { return .failure(.notRegularFile(path: resolved)) }
        var directory = Glibc.open("/", ivk_o_path() | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return .failure(.unavailable(path: "/", errno: Errno(rawValue: errno))) }
        var walked = ""
        if enforce, let refusal = checkDirectory(directory, path: "/", file: resolved) {
            close(directory)
            return .failure(refusal)
        }
        for component in components.dropLast() {
            walked += "/" + component
            let next = openat(directory, component, ivk_o_path() | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            close(directory)
            guard next >= 0 else {
                return .failure(code == ELOOP || code == ENOTDIR ? .changed(path: resolved) : .unavailable(path: walked, errno: Errno(rawValue: code)))
            }
            directory = next
            if enforce, let refusal = checkDirectory(directory, path: walked, file: resolved) {
                close(directory)
                return .failure(refusal)
            }
        }
        defer { close(directory) }
        // O_NONBLOCK: a FIFO planted at the name must not block the open; it is refused below.
        var fd = openat(directory, components.last!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 && errno == EACCES { fd = openat(directory, components.last!, ivk_o_path() | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else {
            return .failure(errno == ELOOP ? .changed(path: resolved) : .unavailable(path: resolved, errno: Errno(rawValue: errno)))
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return .failure(.notRegularFile(path: resolved))
        }
        if enforce && (info.st_uid != 0 || info.st_mode & 0o022 != 0) {
            close(fd)
            return .failure(.unsafeFile(path: resolved, owner: info.st_uid, mode: info.st_mode))
        }
        return .success((FileDescriptor(rawValue: fd), resolved))
    }

    /// Checks without keeping the file open.
    static func check(_ path: String, enforce: Bool = enforced) -> Refusal? {
        switch open(path, enforce: enforce) {
        case .success(let (fd, _)): try? fd.close(); return nil
        case .failure(let refusal): return refusal
        }
    }

    private static func checkDirectory(_ fd: Int32, path: String, file: String) -> Refusal? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .unavailable(path: path, errno: Errno(rawValue: errno)) }
        let sticky = info.st_mode & S_ISVTX != 0
        if info.st_uid != 0 || (info.st_mode & 0o022 != 0 && !sticky) {
            return .unsafeDirectory(file: file, directory: path, owner: info.st_uid, mode: info.st_mode)
        }
        return nil
    }
}
