// DWARFType: what the variables tracer asks of a type DIE through libdw: the type an attribute
// names, the C spelling of a type, an array's dimensions (constant or, for a variable-length
// array, evaluated in the frame), and the members and bases of a structure.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

enum DWARFType {
    /// The DIE named by `die`'s DW_AT_type.
    static func typeOf(_ die: UnsafeMutablePointer<Dwarf_Die>, into result: inout Dwarf_Die) -> Bool {
        var attribute = Dwarf_Attribute()
        guard dwarf_attr_integrate(die, UInt32(DW_AT_type), &attribute) != nil else { return false }
        return dwarf_formref_die(&attribute, &result) != nil
    }

    /// The DIE `die` is a concrete instance of (DW_AT_abstract_origin), if any.
    static func abstractOrigin(_ die: UnsafeMutablePointer<Dwarf_Die>) -> Dwarf_Die? {
        var attribute = Dwarf_Attribute()
        var origin = Dwarf_Die()
        guard dwarf_attr(die, UInt32(DW_AT_abstract_origin), &attribute) != nil, dwarf_formref_die(&attribute, &origin) != nil else {
            return nil
        }
        return origin
    }

    static func tag(_ die: UnsafeMutablePointer<Dwarf_Die>) -> Int { Int(dwarf_tag(die)) }

    static func name(_ die: UnsafeMutablePointer<Dwarf_Die>) -> String? {
        dwarf_diename(die).map { String(cString: $0) }
    }

    /// `die` with typedefs and const/volatile/restrict/atomic qualifiers peeled off.
    static func peeled(_ die: UnsafeMutablePointer<Dwarf_Die>) -> Dwarf_Die? {
        var result = Dwarf_Die()
        return dwarf_peel_type(die, &result) == 0 ? result : nil
    }

    /// The children of `die`, in order.
    static func children(_ die: UnsafeMutablePointer<Dwarf_Die>) -> [Dwarf_Die] {
        var result: [Dwarf_Die] = []
        var child = Dwarf_Die()
        guard dwarf_child(die, &child) == 0 else { return [] }
        repeat {
            result.append(child)
            var next = Dwarf_Die()
            guard dwarf_siblingof(&child, &next) == 0 else { break }
            child = next
        } while result.count < 4096
        return result
    }

    /// The type's name as C writes it ("const char *", "struct point", "int [2][3]").
    static func typeName(_ die: UnsafeMutablePointer<Dwarf_Die>?) -> String {
        guard let die else { return "void" }
        var inner = Dwarf_Die()
        let innerName = typeOf(die, into: &inner) ? typeName(&inner) : "void"
        let name = name(die)
        switch tag(die) {
        case DW_TAG_pointer_type:
            var pointee = Dwarf_Die()
            if typeOf(die, into: &pointee), tag(&pointee) == DW_TAG_subroutine_type { return functionName(&pointee, "(*)") }
            return innerName + (innerName.hasSuffix("*") ? "*" : " *")
        case DW_TAG_reference_type: return innerName + " &"
        case DW_TAG_rvalue_reference_type: return innerName + " &&"
        case DW_TAG_const_type: return "const " + innerName
        case DW_TAG_volatile_type: return "volatile " + innerName
        case DW_TAG_restrict_type: return innerName + " restrict"
        case DW_TAG_atomic_type: return "_Atomic " + innerName
        case DW_TAG_structure_type: return name.map { isCPlusPlus(die) ? qualifiedName(die) : "struct " + $0 } ?? "struct {...}"
        case DW_TAG_union_type: return name.map { isCPlusPlus(die) ? qualifiedName(die) : "union " + $0 } ?? "union {...}"
        case DW_TAG_class_type: return name.map { _ in qualifiedName(die) } ?? "class {...}"
        case DW_TAG_enumeration_type: return name.map { isCPlusPlus(die) ? qualifiedName(die) : "enum " + $0 } ?? "enum {...}"
        case DW_TAG_typedef: return name.map { isCPlusPlus(die) ? qualifiedName(die) : $0 } ?? "?"
        case DW_TAG_array_type:
            let dimensions = subranges(die).map { count in "[" + (constantCount(of: count).map(String.init) ?? "") + "]" }
            return innerName + " " + dimensions.joined()
        case DW_TAG_subroutine_type: return functionName(die, "")
        default: return name ?? "?"
        }
    }

    /// "int (*)(int, char *)" for a subroutine type.
    private static func functionName(_ die: UnsafeMutablePointer<Dwarf_Die>, _ declarator: String) -> String {
        var result = Dwarf_Die()
        let returns = typeOf(die, into: &result) ? typeName(&result) : "void"
        let parameters = children(die).compactMap { child -> String? in
            var child = child
            guard tag(&child) == DW_TAG_formal_parameter else { return tag(&child) == DW_TAG_unspecified_parameters ? "..." : nil }
            var type = Dwarf_Die()
            return typeOf(&child, into: &type) ? typeName(&type) : "?"
        }
        return returns + " " + declarator + "(" + (parameters.isEmpty ? "void" : parameters.joined(separator: ", ")) + ")"
    }

    /// A C++ name with the namespaces and classes around it ("fixture::Shape"), from the scopes
    /// libdw finds above the DIE (dwarf_getscopes_die).
    static func qualifiedName(_ die: UnsafeMutablePointer<Dwarf_Die>) -> String {
        let own = name(die) ?? "?"
        var scopes: UnsafeMutablePointer<Dwarf_Die>? = nil
        let count = dwarf_getscopes_die(die, &scopes)
        guard count > 1, let scopes else { free(scopes); return own }
        defer { free(scopes) }
        var parts: [String] = []
        for index in 1..<Int(count) {
            let scope = scopes + index
            switch tag(scope) {
            case DW_TAG_namespace: parts.append(name(scope) ?? "(anonymous namespace)")
            case DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type, DW_TAG_enumeration_type:
                parts.append(name(scope) ?? "{...}")
            default: break
            }
        }
        return (parts.reversed() + [own]).joined(separator: "::")
    }

    /// Whether the DIE's compilation unit is C++ (type names then drop "struct ").
    static func isCPlusPlus(_ die: UnsafeMutablePointer<Dwarf_Die>) -> Bool {
        var unit = Dwarf_Die()
        guard dwarf_diecu(die, &unit, nil, nil) != nil else { return false }
        let language = dwarf_srclang(&unit)
        return language == DW_LANG_C_plus_plus || language == DW_LANG_C_plus_plus_11 || language == DW_LANG_C_plus_plus_14
            || language == DW_LANG_C_plus_plus_03
    }

    /// An array type's subrange DIEs, outermost dimension first.
    static func subranges(_ die: UnsafeMutablePointer<Dwarf_Die>) -> [Dwarf_Die] {
        children(die).filter { var child = $0; return tag(&child) == DW_TAG_subrange_type }
    }

    /// A subrange's element count when it is a constant (DW_AT_count, or DW_AT_upper_bound with
    /// C's lower bound 0); nil for a variable-length or unknown bound.
    static func constantCount(of subrange: Dwarf_Die) -> Int? {
        var subrange = subrange
        var attribute = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        for code in [DW_AT_count, DW_AT_upper_bound] {
            guard dwarf_attr_integrate(&subrange, UInt32(code), &attribute) != nil else { continue }
            let form = Int(dwarf_whatform(&attribute))
            guard form != DW_FORM_exprloc, form != DW_FORM_ref4, form != DW_FORM_ref8, form != DW_FORM_ref_udata,
                  form != DW_FORM_ref1, form != DW_FORM_ref2, dwarf_formudata(&attribute, &value) == 0 else { return nil }
            if code == DW_AT_upper_bound {
                // An upper bound of -1 (all ones) is C's flexible array member: no elements known.
                return value == Dwarf_Word.max || value == UInt64(UInt32.max) ? 0 : Int(clamping: value) + 1
            }
            return Int(clamping: value)
        }
        return nil
    }

    /// The bit-field layout of a member, when it is one: its first bit counted from the start of
    /// the structure (little-endian) and its width.
    static func bitField(_ member: UnsafeMutablePointer<Dwarf_Die>) -> (offset: Int, size: Int)? {
        guard let size = unsigned(member, DW_AT_bit_size) else { return nil }
        if let offset = unsigned(member, DW_AT_data_bit_offset) { return (Int(offset), Int(size)) }
        // DWARF 2/3: DW_AT_bit_offset counts from the most significant bit of the storage unit.
        let byteOffset = Int(unsigned(member, DW_AT_data_member_location) ?? 0)
        var type = Dwarf_Die()
        let storage = Int(unsigned(member, DW_AT_byte_size) ?? (typeOf(member, into: &type) ? UInt64(max(0, dwarf_bytesize(&type))) : 4))
        let bitOffset = Int(unsigned(member, DW_AT_bit_offset) ?? 0)
        return (byteOffset * 8 + storage * 8 - bitOffset - Int(size), Int(size))
    }

    static func unsigned(_ die: UnsafeMutablePointer<Dwarf_Die>, _ code: Int) -> UInt64? {
        var attribute = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        guard dwarf_attr_integrate(die, UInt32(code), &attribute) != nil, dwarf_formudata(&attribute, &value) == 0 else { return nil }
        return value
    }

    static func has(_ die: UnsafeMutablePointer<Dwarf_Die>, _ code: Int) -> Bool {
        dwarf_hasattr_integrate(die, UInt32(code)) != 0
    }

    /// The data member `name` of a structure type, searched through its base classes too, with its
    /// byte offset from the start of the structure.
    static func member(_ name: String, of structure: UnsafeMutablePointer<Dwarf_Die>, depth: Int = 0) -> (type: Dwarf_Die, offset: Int)? {
        guard depth < 8, var type = peeled(structure) else { return nil }
        for var child in children(&type) {
            let childTag = tag(&child)
            let offset = Int(unsigned(&child, DW_AT_data_member_location) ?? 0)
            var memberType = Dwarf_Die()
            guard childTag == DW_TAG_member || childTag == DW_TAG_inheritance, typeOf(&child, into: &memberType) else { continue }
            if childTag == DW_TAG_member, Self.name(&child) == name { return (memberType, offset) }
            if childTag == DW_TAG_inheritance || Self.name(&child) == nil,
               let found = member(name, of: &memberType, depth: depth + 1) {
                return (found.type, offset + found.offset)
            }
        }
        return nil
    }
}

/// dwarf_aggregate_size, or the byte size, or -1.
func dwarf_aggregate_size_or(_ die: UnsafeMutablePointer<Dwarf_Die>) -> Int {
    var size: Dwarf_Word = 0
    if dwarf_aggregate_size(die, &size) == 0 { return Int(clamping: size) }
    return Int(dwarf_bytesize(die))
}
