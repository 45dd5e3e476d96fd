// DWARF location expressions, one layer: LocationEvaluator on hand-built operations (the
// Dwarf_Op values libdw decodes), with registers from a fake frame and memory from
// InMemoryReader; then the bytes VariableValues assembles from the result, pieces included; and
// the budget every read of the variables tracer goes through.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import Testing
@testable import TracerKit
@testable import Tracers

@Suite(.timeLimit(.minutes(1))) struct LocationEvaluatorTests {
    /// rbx (3) is not saved; rsp (7) = 0x7000, rbp (6) = 0x7100, rdi (5) = 0xfeed, xmm0 (17)
    /// holds the double 3.0, CFA 0x7200.
    static var registers: FrameRegisters {
        var registers = FrameRegisters()
        registers.values = [7: 0x7000, 6: 0x7100, 5: 0xfeed, 17: (3.0 as Double).bitPattern]
        registers.cfa = 0x7200
        return registers
    }

    static func memory() -> InMemoryReader {
        let memory = InMemoryReader()
        // 0x7000: 0x1122334455667788, then 21 (a little-endian Int32), then 0x6ff0 (a pointer).
        memory.map([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 21, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x6f, 0, 0, 0, 0, 0, 0], at: 0x7000)
        memory.map([0xaa, 0xbb, 0xcc, 0xdd], at: 0x71f8)
        return memory
    }

    func op(_ atom: Int, _ number: UInt64 = 0, _ number2: UInt64 = 0) -> Dwarf_Op {
        Dwarf_Op(atom: UInt8(atom), number: number, number2: number2, offset: 0)
    }

    func evaluate(_ ops: [Dwarf_Op], frameBase: UInt64? = 0x7100, bias: UInt64 = 0,
                  entryValue: @escaping (UnsafePointer<Dwarf_Op>) -> UInt64? = { _ in nil }) -> VariableLocation {
        var evaluator = LocationEvaluator(registers: Self.registers, bias: bias, frameBase: frameBase, memory: Self.memory())
        evaluator.entryValue = entryValue
        return ops.withUnsafeBufferPointer { evaluator.evaluate($0.baseAddress!, count: $0.count) }
    }

    @Test func addressesFromTheFrameBaseRegistersCFAAndTheLoadBias() {
        #expect(evaluate([op(DW_OP_fbreg, UInt64(bitPattern: -16))]) == .memory(0x70f0))
        #expect(evaluate([op(DW_OP_breg7, 8)]) == .memory(0x7008))
        #expect(evaluate([op(DW_OP_bregx, 6, 4)]) == .memory(0x7104))
        #expect(evaluate([op(DW_OP_call_frame_cfa), op(DW_OP_consts, UInt64(bitPattern: -8)), op(DW_OP_plus)]) == .memory(0x71f8))
        #expect(evaluate([op(DW_OP_addr, 0x4010)], bias: 0x5555_0000_0000) == .memory(0x5555_0000_4010))
        // A pointer read through: *(rsp + 16), plus 4.
        #expect(evaluate([op(DW_OP_breg7, 16), op(DW_OP_deref), op(DW_OP_plus_uconst, 4)]) == .memory(0x6ff4))
        #expect(evaluate([op(DW_OP_breg7, 8), op(DW_OP_deref_size, 4)]) == .memory(21))
    }

    @Test func registersAndComputedValues() {
        #expect(evaluate([op(DW_OP_reg5)]) == .register(5))
        #expect(evaluate([op(DW_OP_regx, 17)]) == .register(17))
        // (rsp + 8)'s int, times 2, is the value itself.
        #expect(evaluate([op(DW_OP_breg7, 8), op(DW_OP_deref_size, 4), op(DW_OP_lit2), op(DW_OP_mul), op(DW_OP_stack_value)]) == .value(42))
        #expect(evaluate([op(DW_OP_lit7), op(DW_OP_lit3), op(DW_OP_minus), op(DW_OP_stack_value)]) == .value(4))
        #expect(evaluate([op(DW_OP_const1s, UInt64(bitPattern: -1)), op(DW_OP_neg), op(DW_OP_stack_value)]) == .value(1))
        let block: [UInt8] = [1, 2, 3, 4]
        block.withUnsafeBufferPointer { bytes in
            let address = UInt64(UInt(bitPattern: bytes.baseAddress!))
            #expect(evaluate([op(DW_OP_implicit_value, 4, address)]) == .bytes([1, 2, 3, 4]))
        }
    }

    @Test func typedRegistersAndConstants() {
        // GCC's DW_OP_regval_type names xmm0 as a double; DW_OP_const_type carries a double's bytes.
        #expect(evaluate([op(DW_OP_regval_type, 17, 0x2a), op(DW_OP_stack_value)]) == .value((3.0 as Double).bitPattern))
        #expect(evaluate([op(DW_OP_regval_type, 18, 0x2a)]) == .none("unavailable: register xmm1 was not saved in this frame"))
        let block: [UInt8] = [8, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]
        block.withUnsafeBufferPointer { bytes in
            let address = UInt64(UInt(bitPattern: bytes.baseAddress!))
            #expect(evaluate([op(DW_OP_const_type, 0x2a, address), op(DW_OP_stack_value)]) == .value((1.5 as Double).bitPattern))
        }
    }

    @Test func threadLocalAddressesAreOffsetsIntoTheThreadsBlock() {
        var evaluator = LocationEvaluator(registers: Self.registers, bias: 0, frameBase: nil, memory: Self.memory())
        evaluator.threadLocalBlock = { .success(0x7f00_0000_1000) }
        let ops = [op(DW_OP_const8u, 0x10), op(DW_OP_GNU_push_tls_address)]
        #expect(ops.withUnsafeBufferPointer { evaluator.evaluate($0.baseAddress!, count: $0.count) } == .memory(0x7f00_0000_1010))
    }

    @Test func integerConversionsCutAndExtend() {
        var evaluator = LocationEvaluator(registers: Self.registers, bias: 0, frameBase: nil, memory: Self.memory())
        func run(_ ops: [Dwarf_Op]) -> VariableLocation { ops.withUnsafeBufferPointer { evaluator.evaluate($0.baseAddress!, count: $0.count) } }
        // 0x1ff as a signed char is -1; as an unsigned one, 255; to the generic type, unchanged.
        evaluator.convertType = { _ in (1, true) }
        #expect(run([op(DW_OP_const2u, 0x1ff), op(DW_OP_convert, 0x30), op(DW_OP_stack_value)]) == .value(UInt64.max))
        evaluator.convertType = { _ in (1, false) }
        #expect(run([op(DW_OP_const2u, 0x1ff), op(DW_OP_convert, 0x30), op(DW_OP_stack_value)]) == .value(0xff))
        #expect(run([op(DW_OP_const2u, 0x1ff), op(DW_OP_convert, 0), op(DW_OP_stack_value)]) == .value(0x1ff))
        evaluator.convertType = { _ in nil }
        #expect(run([op(DW_OP_lit1), op(DW_OP_convert, 0x30)])
                == .none("unavailable: a conversion to a type other than an integer is not supported"))
    }

    @Test func implicitPointersKeepTheirTarget() {
        // DW_OP_implicit_pointer: number2 is the byte offset into the target.
        var evaluator = LocationEvaluator(registers: Self.registers, bias: 0, frameBase: 0x7100, memory: Self.memory())
        evaluator.implicitPointerTarget = { _ in .memory(0x7008) }
        let ops = [op(DW_OP_implicit_pointer, 0x99, 4)]
        #expect(ops.withUnsafeBufferPointer { evaluator.evaluate($0.baseAddress!, count: $0.count) }
                == .implicitPointer(target: .memory(0x7008), offset: 4))
    }

    @Test func entryValuesComeOnlyFromTheCaller() {
        let ops = [op(DW_OP_entry_value), op(DW_OP_stack_value)]
        #expect(evaluate(ops, entryValue: { _ in 12 }) == .value(12))
        #expect(evaluate(ops) == .none("optimized out (its value on entry is not recoverable from the caller)"))
    }

    @Test func whatCannotBeEvaluatedSaysWhyInsteadOfGuessing() {
        #expect(evaluate([op(DW_OP_breg3, 0)]) == .none("unavailable: register rbx was not saved in this frame"))
        #expect(evaluate([op(DW_OP_fbreg, 8)], frameBase: nil) == .none("unavailable: no frame base"))
        #expect(evaluate([op(DW_OP_lit0), op(DW_OP_deref)]) == .none("unavailable: memory at 0x0 is not readable"))
        #expect(evaluate([op(DW_OP_plus)]) == .none("unavailable: malformed location expression"))
        #expect(evaluate([op(DW_OP_lit1), op(DW_OP_lit0), op(DW_OP_div)]) == .none("unavailable: division by zero in location"))
        #expect(evaluate([op(DW_OP_const1u, 8), op(DW_OP_form_tls_address)])
                == .none("unavailable: thread-local, and no thread to read it in"))
        #expect(evaluate([op(DW_OP_implicit_pointer)])
                == .none("optimized out (a pointer to a value that exists only in the debug information)"))
        #expect(evaluate([op(DW_OP_call2)]) == .none("unavailable: DWARF operation 0x98 is not supported"))
        #expect(evaluate([]) == .none("optimized out"))
    }

    @Test func piecesAssembleAValueAndKeepTrackOfTheMissingOnes() throws {
        // A 12-byte struct: 4 bytes in rdi, 4 at rsp + 8, then 4 the compiler dropped.
        let location = evaluate([op(DW_OP_reg5), op(DW_OP_piece, 4), op(DW_OP_breg7, 8), op(DW_OP_piece, 4), op(DW_OP_piece, 4)])
        #expect(location == .pieces([.init(location: .register(5), size: 4), .init(location: .memory(0x7008), size: 4),
                                     .init(location: .none("optimized out"), size: 4)]))
        let formatter = ValueFormatter(memory: Self.memory())
        let value = try VariableValues.bytes(of: location, size: 12, registers: Self.registers, formatter: formatter).get()
        #expect(value.bytes == [0xed, 0xfe, 0, 0, 21, 0, 0, 0, 0, 0, 0, 0])
        #expect(value.known == [true, true, true, true, true, true, true, true, false, false, false, false])
        #expect(!value.isComplete)
        #expect(value.slice(0..<8).isComplete)
        // A register value is taken little-endian, as wide as the variable.
        let short = try VariableValues.bytes(of: .register(5), size: 2, registers: Self.registers, formatter: formatter).get()
        #expect(short.bytes == [0xed, 0xfe])
        // Every piece missing: nothing to show.
        let none = VariableValues.bytes(of: .pieces([.init(location: .none("optimized out"), size: 8)]), size: 8,
                                        registers: Self.registers, formatter: formatter)
        #expect(throws: VariableValues.Reason.self) { try none.get() }
    }
}

@Suite(.timeLimit(.minutes(1))) struct BudgetedMemoryReaderTests {
    @Test func readsStopOnceTheByteBudgetIsSpentAndSayWhich() throws {
        let memory = InMemoryReader()
        memory.map([UInt8](repeating: 1, count: 64), at: 0x1000)
        let budget = BudgetedMemoryReader(memory, limit: 16, deadline: .after(seconds: 60))
        #expect(try budget.readBytes(at: 0x1000, count: 8) == [UInt8](repeating: 1, count: 8))
        #expect(try budget.readBytes(at: 0x1008, count: 8).count == 8)
        #expect(!budget.isSpent)
        do {
            _ = try budget.readBytes(at: 0x1010, count: 1)
            Issue.record("a read past the budget succeeded")
        } catch {
            #expect(error.reason == "not read: the 16-byte budget is spent")
        }
        #expect(budget.isSpent && budget.bytesRead == 16)
        // Failed reads cost nothing; a refused one is not retried later.
        #expect(throws: MemoryReadError.self) { try budget.readBytes(at: 0x1000, count: 1) }
    }

    @Test func readsStopOnceTheTimeIsUp() {
        let memory = InMemoryReader()
        memory.map([1], at: 0x1000)
        let budget = BudgetedMemoryReader(memory, limit: 1 << 20, deadline: .after(seconds: -1))
        #expect(budget.isSpent && budget.spentReason == "the time budget")
        #expect(throws: MemoryReadError.self) { try budget.readBytes(at: 0x1000, count: 1) }
        #expect(budget.bytesRead == 0)
    }
}
