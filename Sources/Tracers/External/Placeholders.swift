// Placeholders: the %-words of an external tracer's command line, replaced word by word (no shell
// ever sees them): %p pid, %t crashing tid, %s signal number, %e executable, %o output directory,
// %r report path, %% a literal %.

/// Values for the placeholders of one crash run.
public struct PlaceholderValues: Sendable, Equatable {
    public var pid: Int32
    /// The crashing thread; the pid when unknown.
    public var tid: Int32
    /// The signal number; 0 when unknown (a live snapshot).
    public var signal: Int32
    public var executable: String
    public var outputDirectory: String
    public var reportPath: String
    /// Further placeholders of a caller's own (a notifier's %j %f %n), by their letter.
    public var extra: [Character: String] = [:]

    public init(pid: Int32, tid: Int32, signal: Int32, executable: String, outputDirectory: String, reportPath: String) {
        self.pid = pid; self.tid = tid; self.signal = signal; self.executable = executable
        self.outputDirectory = outputDirectory; self.reportPath = reportPath
    }

    /// `word` with every placeholder replaced. An unknown %x is kept as it is (configuration
    /// validation rejects those before we get here).
    public func expand(_ word: String) -> String {
        var result = ""
        var iterator = word.makeIterator()
        while let character = iterator.next() {
            guard character == "%" else { result.append(character); continue }
            guard let key = iterator.next() else { result.append("%"); break }
            switch key {
            case "p": result += String(pid)
            case "t": result += String(tid)
            case "s": result += String(signal)
            case "e": result += executable
            case "o": result += outputDirectory
            case "r": result += reportPath
            case "%": result += "%"
            default:
                if let value = extra[key] { result += value } else { result.append("%"); result.append(key) }
            }
        }
        return result
    }
}
