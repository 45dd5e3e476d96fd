// SystemCall: errno as an operator reads it, and the pause of bounded polling loops. (Retrying
// interrupted calls is swift-system's: FileDescriptor's `retryOnInterrupt`.)

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Sleeps for about `microseconds`; used only by bounded polling loops that also check a deadline.
package func pause(microseconds: Int) {
    var request = timespec(tv_sec: 0, tv_nsec: microseconds * 1000)
    var remaining = timespec()
    _ = nanosleep(&request, &remaining)
}

extension Errno {
    /// The symbolic C name of this errno value ("EPERM"), for messages an operator can search for.
    package var symbolicName: String {
        switch self {
        case .notPermitted: "EPERM"
        case .noSuchProcess: "ESRCH"
        case .interrupted: "EINTR"
        case .ioError: "EIO"
        case .badAddress: "EFAULT"
        case .noSuchFileOrDirectory: "ENOENT"
        case .permissionDenied: "EACCES"
        case .resourceBusy: "EBUSY"
        case .invalidArgument: "EINVAL"
        case .noChildProcess: "ECHILD"
        case .readOnlyFileSystem: "EROFS"
        case .noSpace: "ENOSPC"
        case .fileExists: "EEXIST"
        case .tooManyOpenFiles: "EMFILE"
        case .notDirectory: "ENOTDIR"
        case .tooManySymbolicLinkLevels: "ELOOP"
        default: "errno \(rawValue)"
        }
    }

    /// "EPERM (Operation not permitted)".
    package var sentence: String { "\(symbolicName) (\(String(cString: strerror(rawValue))))" }
}
