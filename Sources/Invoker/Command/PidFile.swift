// PidFile: backtrace-invoker's -P: stop the invoker named in the file (one helper per server),
// then record ours, never writing through a symbolic or hard link.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemPackage
import TracerKit

enum PidFile {
    static func takeOver(_ path: String, logger: Logger) {
        if let text = ProcFile.readText(path, limit: 64), let old = Int32(text.trimmingWhitespace()), old > 1, old != getpid() {
            // Only an invoker (the same executable): a stale file may name an unrelated process
            // that reused the pid.
            if let mine = ProcFile.readLink("/proc/self/exe"), ProcFile.readLink("/proc/\(old)/exe") == mine {
                kill(old, SIGKILL)
                logger.notice("stopped the previous invoker \(old) named in \(path)")
            }
        }
        // Never through a link: O_NOFOLLOW refuses a symbolic one; a hard link (a second name of
        // another file, where fs.protected_hardlinks is 0) is seen by its link count before
        // anything is truncated, as is a FIFO or a device (O_NONBLOCK: opening one must not block).
        let fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0o644)
        guard fd >= 0 else {
            logger.error("cannot write the pid file \(path): \(Errno(rawValue: errno).sentence)")
            return
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1 else {
            logger.error("refusing the pid file \(path): it must be a regular file with no other name (links: \(info.st_nlink)); nothing was written")
            return
        }
        let line = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = line.withCString { write(fd, $0, strlen($0)) }
    }
}
