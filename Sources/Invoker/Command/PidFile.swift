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
        let fd: FileDescriptor
        do {
            let noControllingTerminal = FileDescriptor.OpenOptions(rawValue: O_NOCTTY)
            fd = try FileDescriptor.open(FilePath(path), .writeOnly,
                                         options: [.create, .noFollow, .closeOnExec, .nonBlocking, noControllingTerminal],
                                         permissions: FilePermissions(rawValue: 0o644), retryOnInterrupt: true)
        } catch {
            logger.error("cannot write the pid file \(path): \((error as? Errno ?? .ioError).sentence)")
            return
        }
        defer { try? fd.close() }
        let info = try? fd.stat()
        guard let info, info.type == .regular, info.linkCount == 1 else {
            logger.error("refusing the pid file \(path): it must be a regular file with no other name (links: \(info?.linkCount ?? 0)); nothing was written")
            return
        }
        _ = try? fd.resize(to: 0, retryOnInterrupt: true)
        _ = try? fd.writeAll("\(getpid())\n".utf8)
    }
}
