// ValueFormatter: renders a value of a DWARF type the way gdb prints it in `info locals`, so a
// developer reads what they already know: integers, floats (%.9g / %.17g), bool, characters
// (65 'A'), enums by name, pointers (with the symbol they point into and the C string they point
// to), arrays (200 elements at most, runs of more than ten shown as <repeats N times>),
// structures, unions and classes (members, bases, bit-fields, to a depth), typedefs and
// qualifiers chased, references as @address: value, and C++ std::string and std::vector by
// content. Every read of target memory goes through the (budgeted) reader it is given; what cannot
// be read says so.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

/// A value's bytes, and which of them are known (a value assembled from pieces may lack some).
struct ValueBytes {
    var bytes: [UInt8]
    /// nil: every byte is known.
    var known: [Bool]? = nil

    init(_ bytes: [UInt8], known: [Bool]? = nil) { self.bytes = bytes; self.known = known }

    var count: Int { bytes.count }

    /// Bytes `range` (clamped), with their knownness.
    func slice(_ range: Range<Int>) -> ValueBytes {
        let clamped = range.clamped(to: 0..<bytes.count)
        return ValueBytes(Array(bytes[clamped]), known: known.map { Array($0[clamped]) })
    }

    var isComplete: Bool { known?.allSatisfy { $0 } ?? true }
}

/// Limits on what one value may show (gdb's `print elements`, `print max-depth`, `max-value-size`).
struct ValueFormatOptions {
    var maxDepth = 8
    var maxElements = 200
    var maxValueBytes = 65536
    /// Runs of identical elements longer than this are collapsed (gdb's `print repeats`).
    var repeatThreshold = 10
}

struct ValueFormatter {
    let memory: any MemoryReader
    var options = ValueFormatOptions()
    /// The symbol an address falls in, as gdb prints it after a pointer ("vars_counter",
    /// "vtable for Circle+16"), or nil.
    var symbolize: (UInt64) -> String? = { _ in nil }
    /// The element count of an array dimension whose bound is not a constant (a variable-length
    /// array), evaluated in the variable's frame.
    var dynamicCount: (Dwarf_Die) -> Int? = { _ in nil }

    /// Renders `value` of type `type`.
    func format(_ value: ValueBytes, type: UnsafeMutablePointer<Dwarf_Die>, depth: Int = 0) -> String {
        guard var peeled = DWARFType.peeled(type) else { return hex(value) }
        let tag = DWARFType.tag(&peeled)
        switch tag {
        case DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type:
            if let special = standardLibrary(value, type: &peeled, depth: depth) { return special }
            return structure(value, type: &peeled, depth: depth)
        case DW_TAG_array_type:
            return array(value, type: &peeled, dimensions: DWARFType.subranges(&peeled), depth: depth)
        default:
            guard value.isComplete else { return "<optimized out>" }
            switch tag {
            case DW_TAG_base_type:
                return base(value.bytes, encoding: Int(DWARFType.unsigned(&peeled, DW_AT_encoding) ?? 0))
            case DW_TAG_pointer_type, DW_TAG_ptr_to_member_type:
                return pointer(integer(value.bytes, signed: false), type: &peeled)
            case DW_TAG_reference_type, DW_TAG_rvalue_reference_type:
                let address = integer(value.bytes, signed: false)
                var referenced = Dwarf_Die()
                guard DWARFType.typeOf(&peeled, into: &referenced) else { return "@" + address.hex }
                let text = read(address: address, type: &referenced, depth: depth)
                // gdb's pretty-printed types (std::string, std::vector) are shown without the address.
                return isStandardLibrary(&referenced) && !text.hasPrefix("<") ? text : "@\(address.hex): " + text
            case DW_TAG_enumeration_type:
                return enumerator(integer(value.bytes, signed: true), type: &peeled)
            default:
                return hex(value)
            }
        }
    }

    /// Reads a value of `type` at `address` and renders it.
    func read(address: UInt64, type: UnsafeMutablePointer<Dwarf_Die>, depth: Int = 0) -> String {
        guard let size = size(of: type), size > 0 else { return "<incomplete type>" }
        let wanted = min(size, options.maxValueBytes)
        guard let bytes = readValue(at: address, count: wanted) else { return cannotAccess(address) }
        return format(ValueBytes(bytes), type: type, depth: depth)
    }

    /// Reads `count` bytes; nil if they cannot be read. A budget refusal is not retried.
    func readValue(at address: UInt64, count: Int) -> [UInt8]? {
        try? memory.readBytes(at: address, count: count)
    }

    func cannotAccess(_ address: UInt64) -> String {
        if let budgeted = memory as? BudgetedMemoryReader, let reason = budgeted.spentReason { return "<not read: \(reason) is spent>" }
        return "<error: Cannot access memory at address \(address.hex)>"
    }

    /// The byte size of a value of `type`, variable-length arrays included; nil if unknown.
    func size(of type: UnsafeMutablePointer<Dwarf_Die>) -> Int? {
        guard var peeled = DWARFType.peeled(type) else { return nil }
        if DWARFType.tag(&peeled) == DW_TAG_array_type {
            var element = Dwarf_Die()
            guard DWARFType.typeOf(&peeled, into: &element), let elementSize = size(of: &element) else { return nil }
            var total = elementSize
            for subrange in DWARFType.subranges(&peeled) {
                guard let count = DWARFType.constantCount(of: subrange) ?? dynamicCount(subrange) else { return nil }
                total = total.multipliedReportingOverflow(by: max(0, count)).partialValue
            }
            return total
        }
        let size = dwarf_aggregate_size_or(&peeled)
        return size >= 0 ? size : nil
    }

    // MARK: Pointers and enums

    private func pointer(_ address: UInt64, type: UnsafeMutablePointer<Dwarf_Die>) -> String {
        if address == 0 { return "0x0" }
        var text = address.hex
        if let symbol = symbolize(address) { text += " <\(symbol)>" }
        var pointee = Dwarf_Die()
        if DWARFType.typeOf(type, into: &pointee), isCharacter(&pointee) {
            text += " " + cString(at: address)
        }
        return text
    }

    /// A summary of what a top-level pointer points to (one level: pointers inside are not
    /// followed), or nil when there is nothing to add (null, void, functions, C strings).
    func pointee(of value: ValueBytes, type: UnsafeMutablePointer<Dwarf_Die>) -> String? {
        guard value.isComplete, var peeled = DWARFType.peeled(type), DWARFType.tag(&peeled) == DW_TAG_pointer_type else { return nil }
        let address = integer(value.bytes, signed: false)
        var target = Dwarf_Die()
        guard address != 0, DWARFType.typeOf(&peeled, into: &target), !isCharacter(&target),
              var targetPeeled = DWARFType.peeled(&target), DWARFType.tag(&targetPeeled) != DW_TAG_subroutine_type,
              DWARFType.tag(&targetPeeled) != DW_TAG_unspecified_type else { return nil }
        return summarizing.read(address: address, type: &targetPeeled, depth: 0)
    }

    /// This formatter with the shorter limits of a pointee summary (two levels, 16 elements).
    var summarizing: ValueFormatter {
        var shallow = self
        shallow.options.maxDepth = min(options.maxDepth, 2)
        shallow.options.maxElements = min(options.maxElements, 16)
        return shallow
    }

    private func enumerator(_ value: UInt64, type: UnsafeMutablePointer<Dwarf_Die>) -> String {
        for var child in DWARFType.children(type) where DWARFType.tag(&child) == DW_TAG_enumerator {
            var attribute = Dwarf_Attribute()
            var signed: Dwarf_Sword = 0
            var unsigned: Dwarf_Word = 0
            guard dwarf_attr(&child, UInt32(DW_AT_const_value), &attribute) != nil else { continue }
            let matches = dwarf_formsdata(&attribute, &signed) == 0 ? UInt64(bitPattern: Int64(signed)) == value
                : dwarf_formudata(&attribute, &unsigned) == 0 && unsigned == value
            if matches, let name = DWARFType.name(&child) {
                // C++ qualifies enumerators as gdb does: fixture::Mode::Fast for an enum class.
                guard DWARFType.isCPlusPlus(type) else { return name }
                let scope = DWARFType.has(type, DW_AT_enum_class) ? DWARFType.qualifiedName(type)
                    : DWARFType.qualifiedName(type).split(separator: ":").dropLast().filter { !$0.isEmpty }.joined(separator: "::")
                return scope.isEmpty ? name : scope + "::" + name
            }
        }
        return String(Int64(bitPattern: value))
    }

    // MARK: Structures and arrays

    private func structure(_ value: ValueBytes, type: UnsafeMutablePointer<Dwarf_Die>, depth: Int) -> String {
        if depth >= options.maxDepth { return "{...}" }
        var fields: [String] = []
        for var child in DWARFType.children(type) {
            let tag = DWARFType.tag(&child)
            var memberType = Dwarf_Die()
            guard tag == DW_TAG_member || tag == DW_TAG_inheritance, DWARFType.typeOf(&child, into: &memberType),
                  !DWARFType.has(&child, DW_AT_external), !DWARFType.has(&child, DW_AT_declaration) else { continue }
            let label: String
            if tag == DW_TAG_inheritance {
                label = "<" + DWARFType.typeName(&memberType) + "> = "
            } else {
                label = DWARFType.name(&child).map { $0 + " = " } ?? ""
            }
            if let (bitOffset, bitSize) = DWARFType.bitField(&child) {
                fields.append(label + bitField(value, offset: bitOffset, size: bitSize, type: &memberType))
                continue
            }
            let offset = Int(DWARFType.unsigned(&child, DW_AT_data_member_location) ?? 0)
            let size = self.size(of: &memberType) ?? 0
            if offset + size > value.count {
                fields.append(label + "<not read: beyond the \(options.maxValueBytes)-byte value limit>")
                break
            }
            fields.append(label + format(value.slice(offset..<offset + size), type: &memberType, depth: depth + 1))
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    private func bitField(_ value: ValueBytes, offset: Int, size: Int, type: UnsafeMutablePointer<Dwarf_Die>) -> String {
        let first = offset / 8, last = (offset + size - 1) / 8
        guard size > 0, size <= 64, last < value.count, last - first < 9 else { return "<unavailable>" }
        let slice = value.slice(first..<last + 1)
        guard slice.isComplete else { return "<optimized out>" }
        var bits: UInt64 = 0
        for (index, byte) in slice.bytes.enumerated() where index < 8 { bits |= UInt64(byte) << (8 * UInt64(index)) }
        bits >>= UInt64(offset % 8)
        if size < 64 { bits &= (1 << UInt64(size)) - 1 }
        guard var peeled = DWARFType.peeled(type) else { return String(bits) }
        let encoding = Int(DWARFType.unsigned(&peeled, DW_AT_encoding) ?? 0)
        let signed = encoding == DW_ATE_signed || encoding == DW_ATE_signed_char
        if signed, size < 64, bits & (1 << UInt64(size - 1)) != 0 { bits |= ~((1 << UInt64(size)) - 1) }
        if DWARFType.tag(&peeled) == DW_TAG_enumeration_type { return enumerator(bits, type: &peeled) }
        if encoding == DW_ATE_boolean { return bits == 0 ? "false" : bits == 1 ? "true" : String(bits) }
        return signed ? String(Int64(bitPattern: bits)) : String(bits)
    }

    private func array(_ value: ValueBytes, type: UnsafeMutablePointer<Dwarf_Die>, dimensions: [Dwarf_Die], depth: Int) -> String {
        var element = Dwarf_Die()
        guard DWARFType.typeOf(type, into: &element), let elementSize = size(of: &element), elementSize > 0,
              let dimension = dimensions.first else { return hex(value) }
        let inner = Array(dimensions.dropFirst())
        var stride = elementSize
        for subrange in inner { stride = stride.multipliedReportingOverflow(by: max(0, DWARFType.constantCount(of: subrange) ?? dynamicCount(subrange) ?? 0)).partialValue }
        guard stride > 0 else { return "{}" }
        let declared = max(0, DWARFType.constantCount(of: dimension) ?? dynamicCount(dimension) ?? 0)
        let available = value.count / stride
        let count = min(declared, available)
        if inner.isEmpty, isCharacter(&element) {
            let limited = min(count, options.maxElements)
            let ellipsis = limited < declared
            var characters = Array(value.bytes.prefix(limited))
            if !ellipsis, characters.last == 0 { characters.removeLast() }
            return renderCharacters(characters, ellipsis: ellipsis)
        }
        // Nested arrays count against the depth as structures do (strings do not), as in gdb.
        if depth >= options.maxDepth { return "{...}" }
        return elements(value, stride: stride, count: count, declared: declared) { slice in
            inner.isEmpty ? format(slice, type: &element, depth: depth + 1) : array(slice, type: type, dimensions: inner, depth: depth + 1)
        }
    }

    /// "{e0, e1, e2 <repeats 15 times>...}": `count` elements of `stride` bytes each out of
    /// `declared`, at most `maxElements` shown, runs of more than `repeatThreshold` equal ones
    /// collapsed (each such run counts as `repeatThreshold` against the limit, as in gdb).
    func elements(_ value: ValueBytes, stride: Int, count: Int, declared: Int, render: (ValueBytes) -> String) -> String {
        var parts: [String] = []
        var shown = 0
        var index = 0
        while index < count, shown < options.maxElements {
            let slice = value.slice(index * stride..<(index + 1) * stride)
            var run = 1
            while index + run < count, value.slice((index + run) * stride..<(index + run + 1) * stride).bytes == slice.bytes { run += 1 }
            let text = render(slice)
            if run > options.repeatThreshold {
                parts.append(text + " <repeats \(run) times>")
                index += run
                shown += options.repeatThreshold
            } else {
                parts.append(text)
                index += 1
                shown += 1
            }
        }
        return "{" + parts.joined(separator: ", ") + (index < declared ? "..." : "") + "}"
    }

    func isCharacter(_ type: UnsafeMutablePointer<Dwarf_Die>) -> Bool {
        guard var peeled = DWARFType.peeled(type), DWARFType.tag(&peeled) == DW_TAG_base_type else { return false }
        let encoding = Int(DWARFType.unsigned(&peeled, DW_AT_encoding) ?? 0)
        return (encoding == DW_ATE_signed_char || encoding == DW_ATE_unsigned_char) && dwarf_bytesize(&peeled) == 1
    }
}
