// LocationEvaluator: where a variable lives at a pc, from the DWARF location expression libdw
// decodes for it (dwarf_getlocation_addr): in memory at an address, in a register, a value the
// expression computes, or pieces of those. Only what the frame's recovered registers support is
// evaluated; anything else is reported as unavailable or optimized out, never guessed.

import CElfutils
import TracerKit

/// Where a variable's bytes are.
indirect enum VariableLocation: Equatable {
    case memory(UInt64)
    case register(UInt16)
    /// The expression computed the value itself (DW_OP_stack_value).
    case value(UInt64)
    /// The value's bytes are in the DWARF (DW_OP_implicit_value).
    case bytes([UInt8])
    /// A value assembled from pieces (DW_OP_piece), each `size` bytes from its own location.
    case pieces([Piece])
    /// A pointer the compiler optimized away whose target still has a location
    /// (DW_OP_implicit_pointer): gdb's "<synthetic pointer>". It points `offset` bytes into
    /// `target`.
    case implicitPointer(target: VariableLocation, offset: Int64)
    /// Nothing to show, and why ("optimized out", "unavailable: …").
    case none(String)

    struct Piece: Equatable {
        var location: VariableLocation
        var size: Int
    }
}

/// Evaluates DWARF location expressions in the context of one frame.
struct LocationEvaluator {
    let registers: FrameRegisters
    /// Load bias of the module (DW_OP_addr holds link-time addresses).
    let bias: UInt64
    var frameBase: UInt64?
    let memory: any MemoryReader
    /// Resolves DW_OP_addrx / DW_OP_constx (an index into .debug_addr) to its address or constant.
    var resolveIndex: (UnsafePointer<Dwarf_Op>) -> UInt64? = { _ in nil }
    /// The value a DW_OP_entry_value operation names (a register's value on entry to the
    /// function), recovered from the caller's call site, if it can be.
    var entryValue: (UnsafePointer<Dwarf_Op>) -> UInt64? = { _ in nil }
    /// The address of this module's thread-local block in the frame's thread, or why there is
    /// none (ThreadLocalStorage).
    /// The integer base type a DW_OP_convert names: its size and whether it is signed; nil when
    /// it cannot be found or is not an integer type.
    var convertType: (UnsafePointer<Dwarf_Op>) -> (size: Int, signed: Bool)? = { _ in nil }
    /// The location of the value a DW_OP_implicit_pointer names, in this frame, if it has one.
    var implicitPointerTarget: (UnsafePointer<Dwarf_Op>) -> VariableLocation? = { _ in nil }
    var threadLocalBlock: () -> Result<UInt64, ThreadLocalStorage.Failure> = {
        .failure(ThreadLocalStorage.Failure(reason: "no thread to read it in"))
    }

    /// Evaluates `ops`.
    func evaluate(_ ops: UnsafePointer<Dwarf_Op>, count: Int) -> VariableLocation {
        if count == 0 { return .none("optimized out") }
        var stack: [UInt64] = []
        var result: VariableLocation? = nil
        var pieces: [VariableLocation.Piece] = []
        func malformed() -> VariableLocation { .none("unavailable: malformed location expression") }
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
            case DW_OP_breg0...DW_OP_breg31, DW_OP_bregx:
                let number = atom == DW_OP_bregx ? UInt16(op.number) : UInt16(atom - DW_OP_breg0)
                guard let value = registers.values[number] else { return .none(Self.notSaved(number)) }
                stack.append(value &+ (atom == DW_OP_bregx ? op.number2 : op.number))
            case DW_OP_reg0...DW_OP_reg31:
                result = .register(UInt16(atom - DW_OP_reg0))
            case DW_OP_regx:
                result = .register(UInt16(op.number))
            case DW_OP_regval_type, DW_OP_GNU_regval_type:
                // A register's value as a base type (GCC's way to name an xmm register's double).
                let number = UInt16(op.number)
                guard let value = registers.values[number] else { return .none(Self.notSaved(number)) }
                stack.append(value)
            case DW_OP_const_type, DW_OP_GNU_const_type:
                // libdw: number is the type, number2 the block (its length byte, then the bytes).
                guard let block = UnsafePointer<UInt8>(bitPattern: UInt(op.number2)) else { return malformed() }
                let size = Int(block.pointee)
                guard (1...8).contains(size) else { return .none("unavailable: a typed constant of \(size) bytes is not supported") }
                stack.append((0..<size).reversed().reduce(0) { $0 << 8 | UInt64(block[1 + $1]) })
            case DW_OP_convert, DW_OP_GNU_convert, DW_OP_reinterpret, DW_OP_GNU_reinterpret:
                // Integer conversions only: to the generic type (0) or an integer base type, the
                // value is cut to its size and sign- or zero-extended. A reinterpretation keeps
                // the bits.
                guard let top = stack.popLast() else { return malformed() }
                if op.number == 0 || atom == DW_OP_reinterpret || atom == DW_OP_GNU_reinterpret {
                    stack.append(top)
                    continue
                }
                guard let (size, signed) = convertType(ops + index), (1...8).contains(size) else {
                    return .none("unavailable: a conversion to a type other than an integer is not supported")
                }
                let bits = UInt64(size * 8)
                var value = bits == 64 ? top : top & ((1 << bits) - 1)
                if signed, bits < 64, value & (1 << (bits - 1)) != 0 { value |= ~((1 << bits) - 1) }
                stack.append(value)
            case DW_OP_call_frame_cfa:
                guard let cfa = registers.cfa else { return .none("unavailable: no frame address") }
                stack.append(cfa)
            case DW_OP_lit0...DW_OP_lit31: stack.append(UInt64(atom - DW_OP_lit0))
            case DW_OP_const1u, DW_OP_const2u, DW_OP_const4u, DW_OP_const8u, DW_OP_constu,
                 DW_OP_const1s, DW_OP_const2s, DW_OP_const4s, DW_OP_const8s, DW_OP_consts:
                stack.append(op.number)
            case DW_OP_dup:
                guard let top = stack.last else { return malformed() }
                stack.append(top)
            case DW_OP_drop:
                guard stack.popLast() != nil else { return malformed() }
            case DW_OP_over:
                guard stack.count >= 2 else { return malformed() }
                stack.append(stack[stack.count - 2])
            case DW_OP_swap:
                guard stack.count >= 2 else { return malformed() }
                stack.swapAt(stack.count - 1, stack.count - 2)
            case DW_OP_plus_uconst:
                guard let top = stack.popLast() else { return malformed() }
                stack.append(top &+ op.number)
            case DW_OP_neg, DW_OP_not, DW_OP_abs:
                guard let top = stack.popLast() else { return malformed() }
                let signed = Int64(bitPattern: top)
                stack.append(atom == DW_OP_neg ? UInt64(bitPattern: 0 &- signed) : atom == DW_OP_not ? ~top
                             : UInt64(bitPattern: signed < 0 ? 0 &- signed : signed))
            case DW_OP_plus, DW_OP_minus, DW_OP_and, DW_OP_or, DW_OP_xor, DW_OP_mul, DW_OP_shl, DW_OP_shr, DW_OP_shra,
                 DW_OP_div, DW_OP_mod, DW_OP_eq, DW_OP_ne, DW_OP_lt, DW_OP_gt, DW_OP_le, DW_OP_ge:
                guard stack.count >= 2 else { return malformed() }
                let b = stack.removeLast(), a = stack.removeLast()
                guard let value = Self.binary(atom, a, b) else { return .none("unavailable: division by zero in location") }
                stack.append(value)
            case DW_OP_deref, DW_OP_deref_size:
                let size = atom == DW_OP_deref ? 8 : Int(op.number)
                guard let address = stack.popLast(), (1...8).contains(size) else { return malformed() }
                guard let bytes = try? memory.readBytes(at: address, count: size) else {
                    return .none("unavailable: memory at \(address.hex) is not readable")
                }
                stack.append(bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) })
            case DW_OP_stack_value:
                guard let top = stack.last else { return malformed() }
                result = .value(top)
            case DW_OP_implicit_value:
                guard let block = UnsafeRawPointer(bitPattern: UInt(op.number2)) else { return malformed() }
                result = .bytes(Array(UnsafeRawBufferPointer(start: block, count: Int(op.number))))
            case DW_OP_entry_value, DW_OP_GNU_entry_value:
                guard let value = entryValue(ops + index) else {
                    return .none("optimized out (its value on entry is not recoverable from the caller)")
                }
                stack.append(value)
            case DW_OP_piece:
                // The location so far (or nothing: that piece is optimized out) covers `size` bytes.
                let piece = result ?? stack.last.map(VariableLocation.memory) ?? .none("optimized out")
                pieces.append(.init(location: piece, size: Int(op.number)))
                result = nil
                stack.removeAll()
            case DW_OP_form_tls_address, DW_OP_GNU_push_tls_address:
                guard let offset = stack.popLast() else { return malformed() }
                switch threadLocalBlock() {
                case .success(let block): stack.append(block &+ offset)
                case .failure(let failure): return .none("unavailable: thread-local, and \(failure.reason)")
                }
            case DW_OP_implicit_pointer, DW_OP_GNU_implicit_pointer:
                guard let target = implicitPointerTarget(ops + index) else {
                    return .none("optimized out (a pointer to a value that exists only in the debug information)")
                }
                result = .implicitPointer(target: target, offset: Int64(bitPattern: op.number2))
            default:
                return .none("unavailable: DWARF operation \(atom.hex) is not supported")
            }
        }
        if !pieces.isEmpty { return .pieces(pieces) }
        if let result { return result }
        guard let address = stack.last else { return .none("optimized out") }
        return .memory(address)
    }

    /// Why a register-based location cannot be evaluated in this frame.
    static func notSaved(_ number: UInt16) -> String {
        "unavailable: register \(DWARFRegister.name(number)) was not saved in this frame"
    }

    private static func binary(_ atom: Int, _ a: UInt64, _ b: UInt64) -> UInt64? {
        let sa = Int64(bitPattern: a), sb = Int64(bitPattern: b)
        switch atom {
        case DW_OP_plus: return a &+ b
        case DW_OP_minus: return a &- b
        case DW_OP_and: return a & b
        case DW_OP_or: return a | b
        case DW_OP_xor: return a ^ b
        case DW_OP_mul: return a &* b
        case DW_OP_shl: return b >= 64 ? 0 : a << b
        case DW_OP_shr: return b >= 64 ? 0 : a >> b
        case DW_OP_shra: return UInt64(bitPattern: sa >> min(b, 63))
        case DW_OP_div: return sb == 0 ? nil : UInt64(bitPattern: sa.dividedReportingOverflow(by: sb).partialValue)
        case DW_OP_mod: return b == 0 ? nil : a % b
        case DW_OP_eq: return sa == sb ? 1 : 0
        case DW_OP_ne: return sa != sb ? 1 : 0
        case DW_OP_lt: return sa < sb ? 1 : 0
        case DW_OP_gt: return sa > sb ? 1 : 0
        case DW_OP_le: return sa <= sb ? 1 : 0
        default: return sa >= sb ? 1 : 0
        }
    }
}

/// x86_64 DWARF register names, for sentences.
enum DWARFRegister {
    static let names = ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
                        "r14", "r15", "rip"]

    static func name(_ number: UInt16) -> String {
        if Int(number) < names.count { return names[Int(number)] }
        if (17...32).contains(number) { return "xmm\(number - 17)" }
        return "#\(number)"
    }
}
