// ValueFormatter: renders a value of a DWARF type as C would print it (as gdb does): integers,
// floats, bool, char, enums by name, pointers (with the C string they point to), arrays (first
// elements), structs/classes/unions (members, to a depth), typedef/const/volatile/references
// chased. Every read of target memory is bounded; a value that cannot be read says so.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

struct ValueFormatter {
    let memory: any MemoryReader
    var maxDepth = 2
    var maxElements = 8
    var maxString = 64
    var maxBytes = 4096

    /// The type's name as C writes it ("const char *", "struct point", "int[4]").
    static func typeName(_ die: UnsafeMutablePointer<Dwarf_Die>?) -> String {
        guard let die else { return "void" }
        let tag = Int(dwarf_tag(die))
        let name = dwarf_diename(die).map { String(cString: $0) }
        var inner = Dwarf_Die()
        let hasInner = typeOf(die, into: &inner)
        switch tag {
        case DW_TAG_pointer_type: return (hasInner ? typeName(&inner) : "void") + " *"
        case DW_TAG_reference_type: return (hasInner ? typeName(&inner) : "void") + " &"
        case DW_TAG_const_type: return "const " + (hasInner ? typeName(&inner) : "void")
        case DW_TAG_volatile_type: return "volatile " + (hasInner ? typeName(&inner) : "void")
        case DW_TAG_structure_type: return "struct " + (name ?? "{…}")
        case DW_TAG_union_type: return "union " + (name ?? "{…}")
        case DW_TAG_class_type: return "class " + (name ?? "{…}")
        case DW_TAG_enumeration_type: return "enum " + (name ?? "{…}")
        case DW_TAG_array_type: return (hasInner ? typeName(&inner) : "?") + "[\(arrayCount(die).map(String.init) ?? "")]"
        case DW_TAG_subroutine_type: return "function"
        default: return name ?? "?"
        }
    }

    /// The DIE named by `die`'s DW_AT_type.
    static func typeOf(_ die: UnsafeMutablePointer<Dwarf_Die>, into result: inout Dwarf_Die) -> Bool {
        var attribute = Dwarf_Attribute()
        guard dwarf_attr_integrate(die, UInt32(DW_AT_type), &attribute) != nil else { return false }
        return dwarf_formref_die(&attribute, &result) != nil
    }

    static func arrayCount(_ die: UnsafeMutablePointer<Dwarf_Die>) -> Int? {
        var child = Dwarf_Die()
        guard dwarf_child(die, &child) == 0 else { return nil }
        if let count = InlineFrames.unsigned(&child, DW_AT_count) { return Int(count) }
        if let upper = InlineFrames.unsigned(&child, DW_AT_upper_bound) { return Int(upper) + 1 }
        return nil
    }

    /// Renders `bytes` (the value's own bytes) of type `type`.
    func format(_ bytes: [UInt8], type: UnsafeMutablePointer<Dwarf_Die>, depth: Int = 0) -> String {
        var peeled = Dwarf_Die()
        guard dwarf_peel_type(type, &peeled) == 0 else { return hex(bytes) }
        let tag = Int(dwarf_tag(&peeled))
        switch tag {
        case DW_TAG_base_type:
            let encoding = Int(InlineFrames.unsigned(&peeled, DW_AT_encoding) ?? 0)
            return base(bytes, encoding: encoding)
        case DW_TAG_pointer_type, DW_TAG_reference_type, DW_TAG_rvalue_reference_type:
            guard bytes.count >= 8 else { return hex(bytes) }
            let address = integer(bytes, signed: false)
            var pointee = Dwarf_Die()
            let hasPointee = Self.typeOf(&peeled, into: &pointee)
            if tag != DW_TAG_pointer_type, hasPointee {
                return "@\(address.hex): " + read(address: address, type: &pointee, depth: depth + 1)
            }
            if address == 0 { return "0x0" }
            var text = address.hex
            if hasPointee, isCharacter(&pointee) {
                text += memory.readCString(at: address, limit: maxString).map { " " + quote($0) } ?? " <unreadable>"
            }
            return text
        case DW_TAG_enumeration_type:
            let value = integer(bytes, signed: true)
            var child = Dwarf_Die()
            if dwarf_child(&peeled, &child) == 0 {
                repeat {
                    var attribute = Dwarf_Attribute()
                    var constant: Dwarf_Sword = 0
                    if dwarf_attr(&child, UInt32(DW_AT_const_value), &attribute) != nil, dwarf_formsdata(&attribute, &constant) == 0,
                       UInt64(bitPattern: Int64(constant)) == value, let name = dwarf_diename(&child) {
                        return String(cString: name)
                    }
                    var next = Dwarf_Die()
                    guard dwarf_siblingof(&child, &next) == 0 else { break }
                    child = next
                } while true
            }
            return String(Int64(bitPattern: value))
        case DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type:
            if depth >= maxDepth { return "{…}" }
            var fields: [String] = []
            var child = Dwarf_Die()
            if dwarf_child(&peeled, &child) == 0 {
                repeat {
                    if Int(dwarf_tag(&child)) == DW_TAG_member, let name = dwarf_diename(&child) {
                        let offset = Int(InlineFrames.unsigned(&child, DW_AT_data_member_location) ?? 0)
                        var memberType = Dwarf_Die()
                        if Self.typeOf(&child, into: &memberType) {
                            let size = Int(max(0, dwarf_aggregate_size_or(&memberType)))
                            let slice = offset + size <= bytes.count ? Array(bytes[offset..<offset + size]) : []
                            fields.append("\(String(cString: name)) = " + (slice.isEmpty ? "<unavailable>" : format(slice, type: &memberType, depth: depth + 1)))
                        }
                    }
                    var next = Dwarf_Die()
                    guard dwarf_siblingof(&child, &next) == 0, fields.count < 32 else { break }
                    child = next
                } while true
            }
            return "{" + fields.joined(separator: ", ") + "}"
        case DW_TAG_array_type:
            var element = Dwarf_Die()
            guard Self.typeOf(&peeled, into: &element) else { return hex(bytes) }
            let size = Int(max(1, dwarf_aggregate_size_or(&element)))
            let count = min(bytes.count / size, Self.arrayCount(&peeled) ?? bytes.count / size)
            if isCharacter(&element) {
                return quote(String(decoding: bytes.prefix(count).prefix { $0 != 0 }, as: UTF8.self))
            }
            let shown = (0..<min(count, maxElements)).map { format(Array(bytes[$0 * size..<($0 + 1) * size]), type: &element, depth: depth + 1) }
            return "{" + shown.joined(separator: ", ") + (count > maxElements ? ", …" : "") + "}"
        default:
            return hex(bytes)
        }
    }

    /// Reads a value of `type` at `address` and renders it.
    func read(address: UInt64, type: UnsafeMutablePointer<Dwarf_Die>, depth: Int = 0) -> String {
        let size = Int(dwarf_aggregate_size_or(type))
        guard size > 0 else { return "<unknown size>" }
        guard let bytes = try? memory.readBytes(at: address, count: min(size, maxBytes)) else {
            return "<unreadable at \(address.hex)>"
        }
        return format(bytes, type: type, depth: depth)
    }

    private func isCharacter(_ type: UnsafeMutablePointer<Dwarf_Die>) -> Bool {
        var peeled = Dwarf_Die()
        guard dwarf_peel_type(type, &peeled) == 0, Int(dwarf_tag(&peeled)) == DW_TAG_base_type else { return false }
        let encoding = Int(InlineFrames.unsigned(&peeled, DW_AT_encoding) ?? 0)
        return (encoding == DW_ATE_signed_char || encoding == DW_ATE_unsigned_char) && dwarf_bytesize(&peeled) == 1
    }

    private func base(_ bytes: [UInt8], encoding: Int) -> String {
        switch encoding {
        case DW_ATE_boolean: return integer(bytes, signed: false) == 0 ? "false" : "true"
        case DW_ATE_float:
            if bytes.count == 4 { return String(Float(bitPattern: UInt32(truncatingIfNeeded: integer(bytes, signed: false)))) }
            if bytes.count == 8 { return String(Double(bitPattern: integer(bytes, signed: false))) }
            return hex(bytes)
        case DW_ATE_signed_char, DW_ATE_unsigned_char:
            let value = integer(bytes, signed: encoding == DW_ATE_signed_char)
            let code = UInt8(truncatingIfNeeded: value)
            let shown = code >= 32 && code < 127 ? " '\(Character(Unicode.Scalar(code)))'" : ""
            return String(Int64(bitPattern: value)) + shown
        case DW_ATE_signed: return String(Int64(bitPattern: integer(bytes, signed: true)))
        default: return String(integer(bytes, signed: false))
        }
    }

    /// Little-endian integer of up to 8 bytes, sign-extended when asked.
    func integer(_ bytes: [UInt8], signed: Bool) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        let bits = min(bytes.count, 8) * 8
        if signed, bits > 0, bits < 64, value & (1 << UInt64(bits - 1)) != 0 { value |= ~((1 << UInt64(bits)) - 1) }
        return value
    }

    private func hex(_ bytes: [UInt8]) -> String {
        "0x" + bytes.reversed().map { byte in let text = String(byte, radix: 16); return text.count == 1 ? "0" + text : text }.joined()
    }

    private func quote(_ text: String) -> String {
        "\"" + text.replacingNewlines() + "\""
    }
}

extension String {
    func replacingNewlines() -> String {
        var result = ""
        for character in self {
            switch character {
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            default: result.append(character)
            }
        }
        return result
    }
}

/// dwarf_aggregate_size, or the byte size, or -1.
func dwarf_aggregate_size_or(_ die: UnsafeMutablePointer<Dwarf_Die>) -> Int {
    var size: Dwarf_Word = 0
    if dwarf_aggregate_size(die, &size) == 0 { return Int(size) }
    return Int(dwarf_bytesize(die))
}
