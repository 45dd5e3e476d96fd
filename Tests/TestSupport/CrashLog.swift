// CrashLog: reads back the text crash log invoker writes, so tests can assert on thread names and
// stack shapes (function names, innermost first) rather than on raw text or addresses. A group of
// threads with identical stacks ("256 threads (TIDs 101-356), worker-0..255:") is read as that
// many threads, each with the group's frames (its tids and names expand member by member).

import Foundation

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

    /// A group heading and its frames, as printed.
    public struct Group {
        public var count: Int
        public var tids: [Int32]
        /// The compressed names, as printed ("[ET_NET 0..83]").
        public var names: String
        public var functions: [String]
        public var lines: [String]
    }

    public let text: String
    /// Every thread, those of groups included.
    public private(set) var threads: [Thread] = []
    /// The groups of more than one thread.
    public private(set) var groups: [Group] = []

    public init(_ text: String) {
        self.text = text
        var current: Thread? = nil
        var group: Group? = nil
        func finishGroup() {
            guard let finished = group else { return }
            groups.append(finished)
            let names = Self.expandNames(finished.names)
            for (index, tid) in finished.tids.enumerated() {
                threads.append(Thread(tid: tid, name: names.count == finished.tids.count ? names[index] : "", isCrashing: false,
                                      functions: finished.functions, lines: finished.lines))
            }
            group = nil
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let header = Self.groupHeader(line) {
                if let finished = current { threads.append(finished); current = nil }
                finishGroup()
                group = header
            } else if group != nil, line.first?.isNumber == true {
                let words = line.split(separator: " ", omittingEmptySubsequences: true)
                if words.count >= 3 {
                    group!.functions.append(String(words[2]))
                    group!.lines.append(String(line))
                }
            } else if group != nil, line.isEmpty {
                finishGroup()
            } else if let header = Self.threadHeader(line) {
                finishGroup()
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
        finishGroup()
    }

    /// "N threads (TIDs 101-103, 110), worker-0..2,9:".
    static func groupHeader(_ line: Substring) -> Group? {
        guard line.hasSuffix(":"), let match = try? Regex("^([0-9]+) threads \\(TIDs ([^)]*)\\), (.*):$").wholeMatch(in: line),
              let count = match.output[1].substring.flatMap({ Int($0) }),
              let tidText = match.output[2].substring, let names = match.output[3].substring else { return nil }
        var tids: [Int32] = []
        for run in tidText.split(separator: ", ") {
            let ends = run.split(separator: "-").compactMap { Int32($0) }
            if ends.count == 2, ends[0] <= ends[1] { tids += Array(ends[0]...ends[1]) } else if ends.count == 1 { tids.append(ends[0]) }
        }
        return Group(count: count, tids: tids, names: String(names), functions: [], lines: [])
    }

    /// "worker-0..2,9, main ×2" as [worker-0, worker-1, worker-2, worker-9, main, main]; the
    /// runs may sit anywhere in a name ("[ET_AIO 0..7:31]").
    public static func expandNames(_ compressed: String) -> [String] {
        var names: [String] = []
        let runList = try? Regex("[0-9]+(?:\\.\\.[0-9]+)?(?:,[0-9]+(?:\\.\\.[0-9]+)?)*")
        for token in compressed.components(separatedBy: ", ") {
            if let times = token.range(of: " ×", options: .backwards), let count = Int(token[times.upperBound...]) {
                names += Array(repeating: String(token[..<times.lowerBound]), count: count)
                continue
            }
            // The runs: the first list of numbers with a range or a comma in it; none, one name.
            let found = (runList.map { token.matches(of: $0) } ?? []).map(\.range)
                .first(where: { token[$0].contains(",") || token[$0].contains("..") })
            guard let found, !token[found].split(whereSeparator: { $0 == "," || $0 == "." }).contains(where: { $0.count > 1 && $0.hasPrefix("0") }) else {
                names.append(token)
                continue
            }
            let prefix = token[..<found.lowerBound], suffix = token[found.upperBound...]
            for run in token[found].split(separator: ",") {
                let ends = run.components(separatedBy: "..").compactMap { Int($0) }
                let numbers = ends.count == 2 && ends[0] <= ends[1] ? Array(ends[0]...ends[1]) : ends
                names += numbers.map { "\(prefix)\($0)\(suffix)" }
            }
        }
        return names
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
