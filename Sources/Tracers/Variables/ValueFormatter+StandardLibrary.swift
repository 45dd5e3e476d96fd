// ValueFormatter+StandardLibrary: C++ std::string and std::vector (libstdc++) shown by content,
// as gdb's libstdc++ pretty-printers show them: "text" and
// std::vector of length 3, capacity 4 = {1, 2, 3}. Lengths and pointers come from the target and
// may be corrupt: what is read is bounded by the element and byte limits, and a vector whose
// pointers disagree says so.

import CElfutils
import TracerKit

extension ValueFormatter {
    /// The value by content when `type` is a std::string or std::vector, else nil.
    func standardLibrary(_ value: ValueBytes, type: UnsafeMutablePointer<Dwarf_Die>, depth: Int) -> String? {
        guard value.isComplete, isStandardLibrary(type), let name = DWARFType.name(type) else { return nil }
        if name.hasPrefix("basic_string<char,") { return string(value, type: type) }
        if name.hasPrefix("vector<"), !name.hasPrefix("vector<bool") { return vector(value, type: type, depth: depth) }
        return nil
    }

    /// Whether `type` has libstdc++'s own layout (the DIE does not carry its namespace; the
    /// members it must have are checked instead).
    func isStandardLibrary(_ type: UnsafeMutablePointer<Dwarf_Die>) -> Bool {
        guard var peeled = DWARFType.peeled(type), let name = DWARFType.name(&peeled),
              name.hasPrefix("basic_string<char,") || (name.hasPrefix("vector<") && !name.hasPrefix("vector<bool")) else { return false }
        return DWARFType.member("_M_dataplus", of: &peeled) != nil || DWARFType.member("_M_impl", of: &peeled) != nil
    }

    private func field(_ value: ValueBytes, _ path: [String], of type: UnsafeMutablePointer<Dwarf_Die>) -> (value: UInt64, type: Dwarf_Die)? {
        var current = type.pointee
        var offset = 0
        for name in path {
            guard let found = DWARFType.member(name, of: &current) else { return nil }
            current = found.type
            offset += found.offset
        }
        guard offset + 8 <= value.count else { return nil }
        return (integer(value.slice(offset..<offset + 8).bytes, signed: false), current)
    }

    private func string(_ value: ValueBytes, type: UnsafeMutablePointer<Dwarf_Die>) -> String? {
        guard let pointer = field(value, ["_M_dataplus", "_M_p"], of: type),
              let length = field(value, ["_M_string_length"], of: type)?.value else { return nil }
        let shown = Int(min(length, UInt64(options.maxElements)))
        guard let bytes = readValue(at: pointer.value, count: shown) else { return cannotAccess(pointer.value) }
        return renderCharacters(bytes, ellipsis: UInt64(shown) < length)
    }

    private func vector(_ value: ValueBytes, type: UnsafeMutablePointer<Dwarf_Die>, depth: Int) -> String? {
        guard let start = field(value, ["_M_impl", "_M_start"], of: type),
              let finish = field(value, ["_M_impl", "_M_finish"], of: type)?.value,
              let end = field(value, ["_M_impl", "_M_end_of_storage"], of: type)?.value else { return nil }
        var pointerType = start.type
        var element = Dwarf_Die()
        guard var pointer = DWARFType.peeled(&pointerType), DWARFType.typeOf(&pointer, into: &element), let elementSize = size(of: &element), elementSize > 0 else { return nil }
        guard finish >= start.value, end >= finish else {
            return "<corrupt std::vector: _M_start \(start.value.hex), _M_finish \(finish.hex), _M_end_of_storage \(end.hex)>"
        }
        let length = Int(clamping: (finish - start.value) / UInt64(elementSize))
        let capacity = Int(clamping: (end - start.value) / UInt64(elementSize))
        let header = "std::vector of length \(length), capacity \(capacity)"
        if length == 0 { return header }
        let readable = min(length, options.maxElements, max(1, options.maxValueBytes / elementSize))
        guard let bytes = readValue(at: start.value, count: readable * elementSize) else {
            return header + " = " + cannotAccess(start.value)
        }
        return header + " = " + elements(ValueBytes(bytes), stride: elementSize, count: readable, declared: length) { slice in
            format(slice, type: &element, depth: depth + 1)
        }
    }
}
