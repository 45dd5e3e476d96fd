// ThreadGrouping: threads whose symbolized stacks are identical, computed once from a report's
// threads, so a reader of a 1,000-thread server sees each distinct stack once with a count.
//
// Identical means the same frames, each with the same function, file, line, module (or, for a
// frame without a function, the same module offset), the same inlined and signal-frame marks, the
// same variables with the same values, and the same reason the stack ends. The crashing thread
// always stands alone. Groups are ordered as a reader wants them: the crashing thread first, then
// by size, smallest first (the odd threads out), the largest group last; equal sizes keep the
// order of their first thread.
//
// A group's members are ordered by name (names of the form prefix + number + suffix, such as
// "[ET_NET 12]" or "[ET_AIO 3:31]", the number being the one that varies among them, by family
// in order of first appearance and then by number; then by tid), so the
// compressed name list ("[ET_NET 0..83]") and the tid list ("1201-1284") expand to the same
// sequence, member by member.

import Synchronization
import TracerKit

/// One set of threads with the same stack.
struct ThreadGroup: Equatable {
    /// 1-based, in print order; the `group` of each thread in the JSON report.
    var id: Int
    /// Indexes into the report's threads, in member order (see the file's header).
    var members: [Int]
    /// Whether this is the crashing thread (always a group of its own).
    var isCrashing: Bool

    var count: Int { members.count }
}

enum ThreadGrouping {
    /// The threads grouped last, and their groups: a report's text log (for the crash guard,
    /// then the file) and its JSON document group the same array, which is kept here so its
    /// storage cannot be another's while it is compared (an array's storage, shared, is never
    /// changed in place).
    private static let last = Mutex<(threads: [ThreadReport], groups: [ThreadGroup])?>(nil)

    /// The groups of `threads`, in print order. Every thread is in exactly one group.
    static func groups(of threads: [ThreadReport]) -> [ThreadGroup] {
        let storage = threads.withUnsafeBufferPointer { $0.baseAddress }
        if let known = last.withLock({ last in
            last.flatMap { $0.threads.withUnsafeBufferPointer { $0.baseAddress } == storage && $0.threads.count == threads.count ? $0.groups : nil }
        }) {
            return known
        }
        let groups = computeGroups(of: threads)
        last.withLock { $0 = (threads, groups) }
        return groups
    }

    private static func computeGroups(of threads: [ThreadReport]) -> [ThreadGroup] {
        // Each distinct stack's members, in order of its first thread; one hash of a stack each.
        var stacks: [[Int]] = []
        var stackByKey: [StackKey: Int] = [:]
        var crashing: [Int] = []
        for (index, thread) in threads.enumerated() {
            if thread.isCrashing { crashing.append(index); continue }
            let key = StackKey(thread)
            if let stack = stackByKey[key] {
                stacks[stack].append(index)
            } else {
                stackByKey[key] = stacks.count
                stacks.append([index])
            }
        }
        let others = stacks.enumerated()
            .map { (position: $0.offset, members: $0.element) }
            .sorted { ($0.members.count, $0.position) < ($1.members.count, $1.position) }
        var groups = crashing.map { ThreadGroup(id: 0, members: [$0], isCrashing: true) }
        groups += others.map { ThreadGroup(id: 0, members: memberOrder($0.members, threads), isCrashing: false) }
        for index in groups.indices { groups[index].id = index + 1 }
        return groups
    }

    /// The group id of every thread, by index into `threads`.
    static func groupIDs(_ groups: [ThreadGroup], threadCount: Int) -> [Int] {
        var ids = Array(repeating: 0, count: threadCount)
        for group in groups { for member in group.members { ids[member] = group.id } }
        return ids
    }

    /// "worker-0..255", "[ET_NET 0..10,12..83], [ET_TASK 0..1], main ×2": name families in order
    /// of first appearance, each family's numbers as runs.
    static func compressedNames(_ names: [String]) -> String {
        var families: [(key: NameFamily, numbers: [Int], count: Int)] = []
        let position = NameFamily.numberPosition(for: names)
        for name in names {
            let parsed = NameFamily.parse(name, numberFromEnd: position)
            if let index = families.firstIndex(where: { $0.key == parsed.family }) {
                families[index].count += 1
                if let number = parsed.number { families[index].numbers.append(number) }
            } else {
                families.append((parsed.family, parsed.number.map { [$0] } ?? [], 1))
            }
        }
        return families.map { family in
            guard family.key.isNumbered else { return family.count == 1 ? family.key.prefix : "\(family.key.prefix) ×\(family.count)" }
            let runs = runs(of: family.numbers.sorted()).map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)..\($0.upperBound)" }
            return family.key.prefix + runs.joined(separator: ",") + family.key.suffix
        }.joined(separator: ", ")
    }

    /// "1201-1284, 1290": tids in the given order, consecutive ones as a range.
    static func compressedTIDs(_ tids: [Int32]) -> String {
        runs(of: tids.map(Int.init)).map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ", ")
    }

    /// Maximal runs of consecutive integers (each one more than the one before), in order.
    private static func runs(of numbers: [Int]) -> [ClosedRange<Int>] {
        var result: [ClosedRange<Int>] = []
        for number in numbers {
            if let last = result.last, last.upperBound + 1 == number {
                result[result.count - 1] = last.lowerBound...number
            } else {
                result.append(number...number)
            }
        }
        return result
    }

    /// Members ordered by name family (first appearance), then number, then tid. Each name is
    /// parsed once (a sort's comparisons would parse it at every comparison).
    private static func memberOrder(_ members: [Int], _ threads: [ThreadReport]) -> [Int] {
        let names = members.map { threads[$0].name }
        let position = NameFamily.numberPosition(for: names)
        var familyOrder: [NameFamily: Int] = [:]
        var keys: [(family: Int, number: Int, tid: Int32, member: Int)] = []
        keys.reserveCapacity(members.count)
        for (member, name) in zip(members, names) {
            let parsed = NameFamily.parse(name, numberFromEnd: position)
            let family: Int
            if let known = familyOrder[parsed.family] {
                family = known
            } else {
                family = familyOrder.count
                familyOrder[parsed.family] = family
            }
            keys.append((family, parsed.number ?? -1, threads[member].tid, member))
        }
        return keys.sorted { ($0.family, $0.number, $0.tid) < ($1.family, $1.number, $1.tid) }.map(\.member)
    }
}

/// The part of a thread name around one of its numbers ("[ET_NET " + 12 + "]"); a name without a
/// plain number there (none, or one with a leading zero) is a family of its own.
struct NameFamily: Hashable {
    var prefix: String
    var suffix: String
    var isNumbered: Bool

    /// `name` around its `numberFromEnd`-th number counted from the end (0: the last; a name with
    /// fewer numbers uses its first).
    static func parse(_ name: String, numberFromEnd position: Int = 0) -> (family: NameFamily, number: Int?) {
        // Thread names are ASCII nearly always: their bytes are their characters. Otherwise a
        // digit may carry a combining mark (one Character that is no digit): count in Characters.
        let ascii = name.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.allSatisfy { $0 < 0x80 }
                ? parse(bytes, of: name, numberFromEnd: position, isDigit: isASCIIDigit, text: { String(decoding: $0, as: UTF8.self) })
                : nil
        }
        if let ascii, let parsed = ascii { return parsed }
        return parse(Array(name), of: name, numberFromEnd: position, isDigit: \.isASCIIDigit, text: { String($0) })
    }

    /// `parse` over the elements of `name` (its bytes, or its Characters).
    private static func parse<Elements: RandomAccessCollection>(
        _ elements: Elements, of name: String, numberFromEnd position: Int, isDigit: (Elements.Element) -> Bool,
        text: (Elements.SubSequence) -> String
    ) -> (family: NameFamily, number: Int?) where Elements.Index == Int {
        let runs = digitRuns(elements, isDigit: isDigit)
        guard !runs.isEmpty else { return (NameFamily(prefix: name, suffix: "", isNumbered: false), nil) }
        let run = runs[runs.count - 1 - min(position, runs.count - 1)]
        let digits = text(elements[run])
        guard digits.count <= 9, digits == "0" || !digits.hasPrefix("0"), let number = Int(digits) else {
            return (NameFamily(prefix: name, suffix: "", isNumbered: false), nil)
        }
        return (NameFamily(prefix: text(elements[..<run.lowerBound]), suffix: text(elements[run.upperBound...]), isNumbered: true),
                number)
    }

    /// Which number of the names varies: the position (from the end) that makes the fewest
    /// families, the last on a tie. "[ET_AIO 0:31]" … "[ET_AIO 7:31]" vary in their first number.
    /// A function of the set of names only, so every caller with the same names agrees.
    static func numberPosition(for names: [String]) -> Int {
        let most = min(names.map(digitRunCount).max() ?? 0, 4)
        guard most > 1 else { return 0 }
        let families = (0..<most).map { position in Set(names.map { parse($0, numberFromEnd: position).family }).count }
        return (0..<most).min { (families[$0], $0) < (families[$1], $1) } ?? 0
    }

    /// How many runs of ASCII digits `name` has (as `parse` counts them).
    private static func digitRunCount(_ name: String) -> Int {
        let ascii: Int?? = name.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.allSatisfy { $0 < 0x80 } ? digitRuns(bytes, isDigit: isASCIIDigit).count : nil
        }
        return (ascii ?? nil) ?? digitRuns(Array(name), isDigit: \.isASCIIDigit).count
    }

    private static func isASCIIDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// The ranges of the runs of digits in `elements`, in order.
    private static func digitRuns<Elements: RandomAccessCollection>(_ elements: Elements, isDigit: (Elements.Element) -> Bool)
        -> [Range<Int>] where Elements.Index == Int {
        var runs: [Range<Int>] = []
        var index = elements.startIndex
        while index < elements.endIndex {
            guard isDigit(elements[index]) else { index += 1; continue }
            let start = index
            while index < elements.endIndex && isDigit(elements[index]) { index += 1 }
            runs.append(start..<index)
        }
        return runs
    }
}

/// What makes two stacks the same for grouping (addresses excepted: see the file's header).
private struct StackKey: Hashable {
    struct FrameKey: Hashable {
        var function: String?
        var file: String?
        var line: Int?
        var module: String?
        /// For a frame without a function: where in its module it is.
        var moduleOffset: UInt64?
        var isInlined: Bool
        var isSignalFrame: Bool
        var variables: [String]
    }
    var frames: [FrameKey]
    var unwindStop: String?
    /// The hash of the above, computed once: a dictionary hashes a key on every probe and resize.
    private var hash: Int

    init(_ thread: ThreadReport) {
        frames = thread.flattenedFrames.map { frame in
            FrameKey(function: frame.function, file: frame.file, line: frame.line, module: frame.module,
                     moduleOffset: frame.function == nil ? frame.moduleOffset ?? frame.pc : nil,
                     isInlined: frame.isInlined, isSignalFrame: frame.isSignalFrame,
                     variables: frame.variables.isEmpty ? [] : frame.variables.map { [$0.name, $0.value ?? "", $0.pointee ?? "", $0.note ?? ""].joined(separator: "\u{0}") })
        }
        unwindStop = thread.unwindStop
        var hasher = Hasher()
        hasher.combine(frames)
        hasher.combine(unwindStop)
        hash = hasher.finalize()
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    static func == (a: StackKey, b: StackKey) -> Bool {
        a.hash == b.hash && a.unwindStop == b.unwindStop && a.frames == b.frames
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension ThreadGrouping {
    /// The groups to print: grouped, or every thread alone in the report's order.
    static func printOrder(_ threads: [ThreadReport], grouped: Bool) -> [ThreadGroup] {
        grouped ? groups(of: threads)
            : threads.indices.map { ThreadGroup(id: $0 + 1, members: [$0], isCrashing: threads[$0].isCrashing) }
    }

    /// The text log's heading of a group of more than one thread:
    /// "84 threads (TIDs 1201-1284), [ET_NET 0..83]:".
    static func header(_ group: ThreadGroup, _ threads: [ThreadReport]) -> String {
        let members = group.members.map { threads[$0] }
        return "\(group.count) threads (TIDs \(compressedTIDs(members.map(\.tid)))), \(compressedNames(members.map(\.name))):"
    }
}
