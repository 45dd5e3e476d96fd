// MemoryMapping: one line of /proc/PID/maps.

/// A mapping of the target's address space.
public struct MemoryMapping: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    /// "r-xp" and the like.
    public var permissions: String
    public var offset: UInt64
    public var inode: UInt64
    /// The path or pseudo-name ("[stack]", "[heap]"), empty for anonymous memory.
    public var path: String

    public var isReadable: Bool { permissions.hasPrefix("r") }
    public var isWritable: Bool { permissions.dropFirst().hasPrefix("w") }
    public var isExecutable: Bool { permissions.dropFirst(2).hasPrefix("x") }

    public func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    /// Parses the text of /proc/PID/maps.
    /// Read as UTF-8 bytes (a process with thousands of threads has thousands of lines, parsed
    /// while it is stopped).
    public static func parse(_ text: String) -> [MemoryMapping] {
        let newline = UInt8(ascii: "\n"), space = UInt8(ascii: " "), dash = UInt8(ascii: "-")
        var result: [MemoryMapping] = []
        for line in text.utf8.split(separator: newline) {
            let fields = line.split(separator: space, maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let range = fields[0].split(separator: dash)
            guard range.count == 2, let start = UInt64(Substring(range[0]), radix: 16),
                  let end = UInt64(Substring(range[1]), radix: 16),
                  let offset = UInt64(Substring(fields[2]), radix: 16), let inode = UInt64(Substring(fields[4])) else { continue }
            let path = fields.count > 5 ? Substring(fields[5]).trimmingWhitespace() : ""
            result.append(MemoryMapping(start: start, end: end, permissions: String(Substring(fields[1])), offset: offset,
                                        inode: inode, path: path))
        }
        return result
    }
}

extension Array where Element == MemoryMapping {
    /// The mapping containing `address`, if any (binary search: maps are sorted by address).
    public func mapping(containing address: UInt64) -> MemoryMapping? {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid].end <= address { low = mid + 1 } else { high = mid }
        }
        return low < count && self[low].contains(address) ? self[low] : nil
    }
}
