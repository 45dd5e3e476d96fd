// PidFile: backtrace-invoker's -P: stop the invoker named in the file (one helper per server),
// then record ours.

#if canImport(Glibc)
import Glibc
#endif
import Logging
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
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            logger.error("cannot write the pid file \(path): \(String(cString: strerror(errno)))")
            return
        }
        let line = "\(getpid())\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
}
