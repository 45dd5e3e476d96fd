// ConfigurationError: a configuration problem with its file, line and key, as one sentence.

struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    var file: String
    /// 1-based line, when it could be located.
    var line: Int?
    /// The key path ("tracer[2].timeout"), when the problem is about a key.
    var key: String?
    var message: String

    var description: String {
        var where_ = file
        if let line { where_ += ":\(line)" }
        if let key { return "\(where_): \(key): \(message)" }
        return "\(where_): \(message)"
    }
}
