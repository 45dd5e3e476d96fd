// Diagnostics: where invoker's own messages go (syslog, or standard error under --debug), and the
// guarantee that fds 0, 1 and 2 are open before anything else opens a file.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemPackage

enum Diagnostics {
    /// Sends swift-log output to syslog or to standard error.
    static func bootstrap(syslog: Bool, ident: String) {
        if syslog {
            SyslogLogHandler.open(ident: ident)
            LoggingSystem.bootstrap { _ in SyslogLogHandler() }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = .info
                return handler
            }
        }
    }
}

enum StandardDescriptors {
    /// Traffic Server closes every descriptor but stdin before it runs the helper. If 1 or 2 stayed
    /// closed, the next file we open would become "standard output" and print() would write into
    /// it. Point any closed one at /dev/null.
    static func ensureOpen() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let opened = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if opened >= 0 && opened != fd {
                dup2(opened, fd)
                close(opened)
            }
        }
    }

    /// The descriptors a report needs: symbolizing opens every module's file, the writers their
    /// files and the directory. A server started with a low RLIMIT_NOFILE (we inherit it) must not
    /// cost its report: the soft limit goes to the hard one, and as root both to at least this.
    static let minimumDescriptorLimit: rlim_t = 1024

    /// Raises RLIMIT_NOFILE as far as allowed (ours only: the server's limits are untouched).
    static func raiseLimit() {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return }
        let wanted = max(limit.rlim_cur, minimumDescriptorLimit)
        if limit.rlim_max < wanted {
            var raised = rlimit(rlim_cur: wanted, rlim_max: wanted)
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { return }
        }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
    }

    private static var RLIMIT_NOFILE_VALUE: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}

/// Writes one line to standard error (for command-line errors, before or without logging).
func printToStandardError(_ message: String) {
    FileDescriptor.standardError.writeAllIgnoringErrors(message + "\n")
}
