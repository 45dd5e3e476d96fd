// StoreError: why the crash store (the SQLite index beside the reports) could not be used. The
// report files never depend on it: each case reads as the sentence an operator sees next to
// "the report was written".

/// A failure of the crash store, as a sentence with the file and the cause.
enum StoreError: Error, CustomStringConvertible {
    /// The file exists but is not a database invoker made (another program's, or not SQLite).
    case foreign(path: String, reason: String)
    /// SQLite refused (corrupt file, read-only or full file system, locked past the timeout…).
    case database(path: String, operation: String, reason: String)
    /// The file could not be created or opened safely (a symbolic link, a directory we cannot write).
    case file(path: String, operation: String, errno: String)

    var description: String {
        switch self {
        case .foreign(let path, let reason):
            "the crash store \(path) is not invoker's (\(reason)); move it away, or run `invoker store rebuild` to make a new one"
        case .database(let path, let operation, let reason):
            "the crash store \(path) could not \(operation): \(reason)"
        case .file(let path, let operation, let errno):
            "cannot \(operation) the crash store \(path): \(errno)"
        }
    }
}
