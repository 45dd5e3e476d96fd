// LocationEvaluator+Attribute: a variable DIE's location as libdw gives it, for frames and globals
// alike: its DW_AT_location (the location list's entry for a pc, or its single expression), else
// its DW_AT_const_value, else nothing ("optimized out"). Operations that refer to other parts of
// the DWARF (DW_OP_addrx/constx, DW_OP_convert's type) are resolved through the attribute they
// came from; what needs a frame (entry values, implicit pointers) through the evaluator's own
// closures.

import CElfutils
import TracerKit

extension LocationEvaluator {
    /// Where the variable `die` is at module-relative `pc` (nil: outside any frame, a global).
    func location(of die: UnsafeMutablePointer<Dwarf_Die>, pc: Dwarf_Addr?) -> VariableLocation {
        var attribute = Dwarf_Attribute()
        if dwarf_attr_integrate(die, UInt32(DW_AT_location), &attribute) != nil { return evaluate(&attribute, pc: pc) }
        if dwarf_attr_integrate(die, UInt32(DW_AT_const_value), &attribute) != nil { return Self.constant(&attribute) }
        return .none("optimized out")
    }

    /// Evaluates the location expression `attribute` holds: the entry of its location list that
    /// covers `pc`, or (no `pc`) its single expression.
    func evaluate(_ attribute: UnsafeMutablePointer<Dwarf_Attribute>, pc: Dwarf_Addr?) -> VariableLocation {
        var ops: UnsafeMutablePointer<Dwarf_Op>? = nil
        var length = 0
        if let pc {
            let found = dwarf_getlocation_addr(attribute, pc, &ops, &length, 1)
            if found == 0 { return .none("optimized out") }
            guard found > 0 else { return .none("unavailable: no location") }
        } else if dwarf_getlocation(attribute, &ops, &length) != 0 {
            return .none("unavailable: no single location")
        }
        guard let ops else { return .none("unavailable: no location") }
        var resolving = self
        resolving.resolveIndex = { op in
            var result = Dwarf_Attribute()
            var address: Dwarf_Addr = 0
            guard dwarf_getlocation_attr(attribute, op, &result) == 0, dwarf_formaddr(&result, &address) == 0 else { return nil }
            return address
        }
        resolving.convertType = { op in
            var type = Dwarf_Die()
            guard dwarf_getlocation_die(attribute, op, &type) == 0, DWARFType.tag(&type) == DW_TAG_base_type else { return nil }
            let encoding = Int(DWARFType.unsigned(&type, DW_AT_encoding) ?? 0)
            guard [DW_ATE_signed, DW_ATE_signed_char, DW_ATE_unsigned, DW_ATE_unsigned_char, DW_ATE_boolean].contains(encoding) else {
                return nil
            }
            return (Int(dwarf_bytesize(&type)), encoding == DW_ATE_signed || encoding == DW_ATE_signed_char)
        }
        return resolving.evaluate(ops, count: length)
    }

    /// A DW_AT_const_value: an integer, or a block of the value's bytes.
    static func constant(_ attribute: UnsafeMutablePointer<Dwarf_Attribute>) -> VariableLocation {
        var block = Dwarf_Block()
        if dwarf_formblock(attribute, &block) == 0, let data = block.data {
            return .bytes(Array(UnsafeBufferPointer(start: data, count: Int(block.length))))
        }
        var signed: Dwarf_Sword = 0
        if dwarf_formsdata(attribute, &signed) == 0 { return .value(UInt64(bitPattern: Int64(signed))) }
        var unsigned: Dwarf_Word = 0
        if dwarf_formudata(attribute, &unsigned) == 0 { return .value(unsigned) }
        return .none("optimized out")
    }
}
