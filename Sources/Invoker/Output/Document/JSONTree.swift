// JSONTree: a JSON value as JSONTreeEncoder builds it from an Encodable, and its pretty-printed text
// as YAJL's generator (Debian's libyajl, linked statically) writes it: two-space indents, keys sorted
// by their UTF-8 bytes, slashes unescaped, a final newline. The JSON report is written this way
// because Foundation's JSONEncoder spent about 150 ms of CPU on a 256-thread snapshot's 5 MB report
// (a dictionary per object, hashed, then sorted and serialized in Swift); this tree keeps each
// object's members in an array and YAJL writes the text (bench/README.md). What it writes is the
// same document as JSONEncoder's `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`: the same
// keys, values and order; only the separator differs (`"key": value`, JSONEncoder's `"key" : value`).

import CYajl

/// A JSON value with its objects' members in the order they were encoded.
enum JSONTree {
    case string(String)
    /// A number's text, as JSONTreeEncoder formats it.
    case number(String)
    case bool(Bool)
    case null
    case array(JSONTreeArray)
    case object(JSONTreeObject)

    /// The pretty-printed text, or nil when YAJL refuses the tree (deeper than its 128 levels).
    func prettyPrinted() -> [UInt8]? {
        guard let generator = ivk_yajl_indenting_generator() else { return nil }
        defer { yajl_gen_free(generator) }
        var writer = JSONTreeWriter(generator: generator)
        guard writer.write(self) else { return nil }
        var buffer: UnsafePointer<UInt8>?
        var length = 0
        guard yajl_gen_get_buf(generator, &buffer, &length) == yajl_gen_status_ok, let buffer else { return nil }
        // YAJL ends a pretty-printed document with a newline already.
        return Array(UnsafeBufferPointer(start: buffer, count: length))
    }
}

/// Walks a tree into a YAJL generator, each object's members in key order.
private struct JSONTreeWriter {
    let generator: yajl_gen
    /// The member orders of the objects written last, by their keys: a report's thousands of
    /// frames have a few key sequences, each sorted once.
    private var orders: [(keys: [String], order: [Int])] = []

    init(generator: yajl_gen) { self.generator = generator }

    mutating func write(_ tree: JSONTree) -> Bool {
        switch tree {
        case .string(let value):
            return writeString(value)
        case .number(var text):
            return text.withUTF8 { bytes in
                bytes.withMemoryRebound(to: CChar.self) { yajl_gen_number(generator, $0.baseAddress, bytes.count) }
            } == yajl_gen_status_ok
        case .bool(let value):
            return yajl_gen_bool(generator, value ? 1 : 0) == yajl_gen_status_ok
        case .null:
            return yajl_gen_null(generator) == yajl_gen_status_ok
        case .array(let array):
            guard yajl_gen_array_open(generator) == yajl_gen_status_ok else { return false }
            for element in array.elements where !write(element) { return false }
            return yajl_gen_array_close(generator) == yajl_gen_status_ok
        case .object(let object):
            guard yajl_gen_map_open(generator) == yajl_gen_status_ok else { return false }
            let members = object.members
            for index in order(of: members) {
                guard writeString(members[index].key), write(members[index].value) else { return false }
            }
            return yajl_gen_map_close(generator) == yajl_gen_status_ok
        }
    }

    private func writeString(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { yajl_gen_string(generator, $0.baseAddress, $0.count) } == yajl_gen_status_ok
    }

    /// The members' indices by key (UTF-8 bytes; JSONEncoder's `.sortedKeys` order), the last of
    /// equal keys only (a key encoded again replaces its value, as in JSONEncoder).
    private mutating func order(of members: [(key: String, value: JSONTree)]) -> [Int] {
        if members.count < 2 { return Array(members.indices) }
        for (slot, known) in orders.enumerated()
        where known.keys.count == members.count && zip(known.keys, members).allSatisfy({ $0 == $1.key }) {
            if slot > 0 { orders.swapAt(slot, 0) }
            return known.order
        }
        let sorted = members.indices.sorted { JSONTreeWriter.precedes(members[$0].key, members[$1].key) || (members[$0].key == members[$1].key && $0 < $1) }
        var order: [Int] = []
        order.reserveCapacity(sorted.count)
        for index in sorted {
            if let last = order.last, members[last].key == members[index].key { order[order.count - 1] = index } else { order.append(index) }
        }
        orders.insert((members.map(\.key), order), at: 0)
        if orders.count > 8 { orders.removeLast() }
        return order
    }

    /// Whether `a` sorts before `b` by UTF-8 bytes.
    static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { left in
            b.withUTF8 { right in
                for index in 0..<min(left.count, right.count) where left[index] != right[index] {
                    return left[index] < right[index]
                }
                return left.count < right.count
            }
        }
    }
}

/// An array being built (the encoder's containers append to it).
final class JSONTreeArray {
    var elements: [JSONTree] = []
}

/// An object being built, its members in encoding order (JSONTreeWriter sorts them).
final class JSONTreeObject {
    private(set) var members: [(key: String, value: JSONTree)] = []

    func set(_ value: JSONTree, for key: String) {
        members.append((key, value))
    }
}
