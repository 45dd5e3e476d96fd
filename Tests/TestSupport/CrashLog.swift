// CrashLog: reads back the text crash log invoker writes, so tests can assert on thread names and
// stack shapes (function names, innermost first) rather than on raw text or addresses.

/// A parsed crash log.
public struct CrashLog {
    public struct Thread {
        public var tid: Int32
        public var name: String
        public var isCrashing: Bool
        /// Function names, innermost first ("??" where unknown).
        public var functions: [String]
        /// The raw frame lines.
        public var lines: [String]
    }

    public let text: String
    public private(set) var threads: [Thread] = []

    public init(_ text: String) {
        self.text = text
        var current: Thread? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let header = Self.threadHeader(line) {
                if let current { threads.append(current) }
                current = header
            } else if current != nil, line.first?.isNumber == true {
                let words = line.split(separator: " ", omittingEmptySubsequences: true)
                // "N   0xPC function + 0xoff [at file:line] [in module]"
                if words.count >= 3 {
                    current!.functions.append(String(words[2]))
                    current!.lines.append(String(line))
                }
            } else if line.isEmpty, let finished = current {
                threads.append(finished)
                current = nil
            }
        }
        if let current { threads.append(current) }
    }

    /// "Crashing Thread (TID 12, name):" or "Thread (TID 12, name):" (ATS 10's layout), or
    /// "Thread 12, name:" (9.x's).
    static func threadHeader(_ line: Substring) -> Thread? {
        if line.hasPrefix("Thread "), line.hasSuffix(":"), !line.hasPrefix("Thread (") {
            let parts = line.dropFirst("Thread ".count).dropLast().split(separator: ",", maxSplits: 1)
            guard let tid = parts.first.flatMap({ Int32($0) }) else { return nil }
            let name = parts.count > 1 ? String(parts[1].dropFirst()) : ""
            return Thread(tid: tid, name: name, isCrashing: false, functions: [], lines: [])
        }
        for (prefix, crashing) in [("Crashing Thread (TID ", true), ("Thread (TID ", false)] {
            guard line.hasPrefix(prefix), line.hasSuffix("):") else { continue }
            let parts = line.dropFirst(prefix.count).dropLast(2).split(separator: ",", maxSplits: 1)
            guard let tid = parts.first.flatMap({ Int32($0) }) else { return nil }
            let name = parts.count > 1 ? String(parts[1].dropFirst()) : ""
            return Thread(tid: tid, name: name, isCrashing: crashing, functions: [], lines: [])
        }
        return nil
    }

    /// The crashing thread: marked in ATS 10's layout; in 9.x's, which marks none, the first.
    public var crashingThread: Thread? {
        threads.first { $0.isCrashing } ?? (isATS9Layout ? threads.first : nil)
    }

    /// Whether the threads are in 9.x's layout ("Thread 12, name:").
    public var isATS9Layout: Bool { !threads.isEmpty && !text.contains("\nCrashing Thread (TID ") && !text.contains("\nThread (TID ") }
    public func threads(named name: String) -> [Thread] { threads.filter { $0.name == name } }
}

extension Array where Element == String {
    /// Whether `sequence` appears in order, contiguously.
    public func containsRun(_ sequence: [String]) -> Bool {
        guard sequence.count <= count else { return false }
        return (0...(count - sequence.count)).contains { Array(self[$0..<$0 + sequence.count]) == sequence }
    }
}
