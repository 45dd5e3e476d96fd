// Directories: `mkdir -p` for the directories invoker makes for itself when they are missing (a
// snapshot's --output, the debug-info cache), and the one split of a path into the directories
// to step through (here, and LogDirectory's open one component at a time). What exists is left
// as it is; whether the result is usable is for the caller's own check.

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
        for component in components(of: path) {
            current += "/" + component
            failure = mkdir(current, mode) == 0 || errno == EEXIST ? nil : Errno(rawValue: errno)
        }
        return failure
    }

    /// The path's components that name a directory to step into (not empty, not "."), split at
    /// the "/" bytes. (The parked helper opens its log directory with these: a Character split's
    /// closure thunk lay apart from its other code, one more 64 KB window; bench/README.md.)
    package static func components(of path: String) -> [String] {
        let bytes = path.utf8
        var result: [String] = []
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            let component = String(path[start..<end])
            if !component.isEmpty && component != "." { result.append(component) }
            start = end < bytes.endIndex ? bytes.index(after: end) : end
        }
        return result
    }
}
