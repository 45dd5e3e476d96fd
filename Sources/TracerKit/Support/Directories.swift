// Directories: `mkdir -p` for the directories invoker makes for itself when they are missing (a
// snapshot's --output, the debug-info cache). What exists is left as it is; whether the result
// is usable is for the caller's own check.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

package enum Directories {
    /// Creates `path` and the directories above it that are missing, each with `mode`. Returns
    /// why `path` itself could not be made, nil when it was made or already existed.
    @discardableResult
    package static func make(_ path: String, mode: mode_t) -> Errno? {
        var current = path.hasPrefix("/") ? "" : "."
        var failure: Errno? = nil
        for component in path.split(separator: "/") {
            current += "/" + component
            failure = mkdir(current, mode) == 0 || errno == EEXIST ? nil : Errno(rawValue: errno)
        }
        return failure
    }
}
