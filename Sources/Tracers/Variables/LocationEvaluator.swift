// LocationEvaluator: where a variable lives at a pc, from the DWARF location expression libdw
// decodes for it (dwarf_getlocation_addr): in memory at an address, in a register, or a value
// computed by the expression. Only what the frame's recovered registers support is evaluated;
// anything else is reported as unavailable, never guessed.

import CElfutils
import TracerKit

/// Where a variable's bytes are.
enum VariableLocation: Equatable {
    case memory(UInt64)
    case register(UInt16)
    /// The expression computed the value itself (DW_OP_stack_value), or an implicit value.
    case value(UInt64)
    case bytes([UInt8])
    /// Nothing to show, and why ("optimized out", "unavailable: …").
    case none(String)
}

struct LocationEvaluator {
    let registers: FrameRegisters
    /// Load bias of the module (DW_OP_addr holds link-time addresses).
    let bias: UInt64
    let frameBase: UInt64?
    let memory: any MemoryReader
    /// Resolves DW_OP_addrx / DW_OP_constx (an index into .debug_addr) to its address.
    var resolveIndex: (UnsafePointer<Dwarf_Op>) -> UInt64? = { _ in nil }

    /// Evaluates `ops`.
    func evaluate(_ ops: UnsafePointer<Dwarf_Op>, count: Int) -> VariableLocation {
        if count == 0 { return .none("optimized out") }
        var stack: [UInt64] = []
        var result: VariableLocation? = nil
        for index in 0..<count {
            let op = ops[index]
            let atom = Int(op.atom)
            switch atom {
            case DW_OP_addr: stack.append(op.number &+ bias)
            case DW_OP_addrx, DW_OP_GNU_addr_index:
                guard let address = resolveIndex(ops + index) else { return .none("unavailable: address index not resolved") }
                stack.append(address &+ bias)
            case DW_OP_constx, DW_OP_GNU_const_index:
                guard let value = resolveIndex(ops + index) else { return .none("unavailable: constant index not resolved") }
                stack.append(value)
            case DW_OP_fbreg:
                guard let frameBase else { return .none("unavailable: no frame base") }
                stack.append(frameBase &+ op.number)
            case DW_OP_breg0...DW_OP_breg31:
                guard let value = registers.values[UInt16(atom - DW_OP_breg0)] else {
                    return .none("unavailable: register \(atom - DW_OP_breg0) not saved in this frame")
                }
                stack.append(value &+ op.number)
            case DW_OP_bregx:
                guard let value = registers.values[UInt16(op.number)] else { return .none("unavailable: register \(op.number) not saved in this frame") }
                stack.append(value &+ op.number2)
            case DW_OP_reg0...DW_OP_reg31:
                result = .register(UInt16(atom - DW_OP_reg0))
            case DW_OP_regx:
                result = .register(UInt16(op.number))
            case DW_OP_call_frame_cfa:
                guard let cfa = registers.cfa else { return .none("unavailable: no frame address") }
                stack.append(cfa)
            case DW_OP_lit0...DW_OP_lit31: stack.append(UInt64(atom - DW_OP_lit0))
            case DW_OP_const1u, DW_OP_const2u, DW_OP_const4u, DW_OP_const8u, DW_OP_constu,
                 DW_OP_const1s, DW_OP_const2s, DW_OP_const4s, DW_OP_const8s, DW_OP_consts:
                stack.append(op.number)
            case DW_OP_plus_uconst:
                guard let top = stack.popLast() else { return .none("unavailable: malformed location") }
                stack.append(top &+ op.number)
            case DW_OP_plus, DW_OP_minus, DW_OP_and, DW_OP_or, DW_OP_mul:
                guard stack.count >= 2 else { return .none("unavailable: malformed location") }
                let b = stack.removeLast(), a = stack.removeLast()
                stack.append(atom == DW_OP_plus ? a &+ b : atom == DW_OP_minus ? a &- b : atom == DW_OP_and ? a & b
                             : atom == DW_OP_or ? a | b : a &* b)
            case DW_OP_deref:
                guard let address = stack.popLast(), let value = try? memory.read(UInt64.self, at: address) else {
                    return .none("unavailable: memory not readable")
                }
                stack.append(value)
            case DW_OP_stack_value:
                guard let top = stack.last else { return .none("unavailable: malformed location") }
                return .value(top)
            case DW_OP_implicit_value:
                guard let block = UnsafeRawPointer(bitPattern: UInt(op.number2)) else { return .none("unavailable") }
                return .bytes(Array(UnsafeRawBufferPointer(start: block, count: Int(op.number))))
            case DW_OP_piece, DW_OP_bit_piece:
                return .none("unavailable: split into pieces")
            case DW_OP_entry_value, DW_OP_GNU_entry_value:
                return .none("optimized out (known only at function entry)")
            default:
                return .none("unavailable: DWARF operation \(atom.hex) not supported")
            }
        }
        if let result { return result }
        guard let address = stack.last else { return .none("optimized out") }
        return .memory(address)
    }
}
