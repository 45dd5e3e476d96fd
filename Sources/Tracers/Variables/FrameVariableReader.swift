// FrameVariableReader: the parameters and locals of one thread's frames. For each frame it takes
// the DWARF scope chain at the frame's pc (the module index's, shared with the symbolizer), finds
// the frame base, and evaluates every variable's location there with the registers the unwinder
// recovered for that frame; each variable goes with its function level. A parameter the
// compiler kept only as "its value on entry" (DW_OP_entry_value) is recovered, as gdb does, from
// the caller's call site (DW_TAG_call_site_parameter), evaluated in the caller's frame.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

final class FrameVariableReader {
    private let frames: [Frame]
    private let modules: ModuleIndex
    private let memory: any MemoryReader
    private let formatter: ValueFormatter
    private let maxVariablesPerFrame: Int
    /// The thread-local block of the module with a given load bias, in this thread.
    private let threadLocalBlock: (UInt64) -> Result<UInt64, ThreadLocalStorage.Failure>
    /// Each frame's scope, once looked up (nil: no DWARF there).
    private var scopes: [Int: FrameScope?] = [:]

    /// What is known of a frame's code position: the scope chain at its pc (the module index's,
    /// shared with the symbolizer) and an evaluator for its registers.
    struct FrameScope {
        var chain: ScopeChain
        var evaluator: LocationEvaluator
        var bias: UInt64 { chain.bias }
        var pc: Dwarf_Addr { chain.pc }
    }

    init(frames: [Frame], modules: ModuleIndex, memory: any MemoryReader, formatter: ValueFormatter, maxVariablesPerFrame: Int,
         threadLocalBlock: @escaping (UInt64) -> Result<UInt64, ThreadLocalStorage.Failure>) {
        self.frames = frames; self.modules = modules; self.memory = memory; self.formatter = formatter
        self.maxVariablesPerFrame = maxVariablesPerFrame; self.threadLocalBlock = threadLocalBlock
    }

    /// The variables of frame `index` by function level (the function, then the bodies inlined
    /// into it): its parameters, then its locals innermost block first, as gdb lists them.
    func variables(ofFrame index: Int, faultAddress: UInt64?) -> FrameVariables {
        guard let scope = scope(of: index) else { return FrameVariables() }
        var result = FrameVariables()
        var count = 0
        for (levelIndex, level) in scope.chain.levels.enumerated() {
            var levelDie = level.die
            let name = levelIndex == 0 ? nil : InlineFrames.name(of: &levelDie)
            var parameters: [Variable] = []
            var locals: [Variable] = []
            for (position, var die) in ([level.die] + level.blocks).enumerated().reversed() {
                let children = DWARFType.children(&die) + Self.abstractOnly(die)
                for var child in children where count + parameters.count + locals.count < maxVariablesPerFrame {
                    let tag = DWARFType.tag(&child)
                    guard tag == DW_TAG_variable || (tag == DW_TAG_formal_parameter && position == 0),
                          !DWARFType.has(&child, DW_AT_declaration),
                          var variable = value(of: &child, kind: tag == DW_TAG_formal_parameter ? "parameter" : "local",
                                               frame: index, scope: scope, faultAddress: faultAddress) else { continue }
                    variable.scope = name
                    if tag == DW_TAG_formal_parameter { parameters.append(variable) } else { locals.append(variable) }
                }
            }
            count += parameters.count + locals.count
            if levelIndex == 0 {
                result.own = parameters + locals
            } else if let name {
                result.inlined.insert(InlinedCall(function: name, variables: parameters + locals), at: 0)
            } else {
                // An inlined body without a name: its variables cannot say whose they are.
                result.inlined.insert(InlinedCall(function: "??"), at: 0)
                result.own += parameters + locals
            }
        }
        return result
    }

    /// The parameters and locals that the abstract instance of scope `root` (DW_AT_abstract_origin:
    /// an inlined function's, an out-of-line copy's, or one of their blocks) declares and no DIE
    /// of the concrete tree stands for: the compiler dropped them, so they are optimized out, and
    /// gdb lists them too. Abstract blocks without a concrete counterpart are flattened into the
    /// scope, as gdb does; unlike gdb 13, a variable the concrete tree has inside a block of its
    /// own is not listed a second time.
    static func abstractOnly(_ root: Dwarf_Die) -> [Dwarf_Die] {
        var root = root
        guard var origin = DWARFType.abstractOrigin(&root) else { return [] }
        var covered = Set<Dwarf_Off>()
        var pending = DWARFType.children(&root)
        while var die = pending.popLast(), covered.count < 100_000 {
            if var target = DWARFType.abstractOrigin(&die) { covered.insert(dwarf_dieoffset(&target)) }
            if DWARFType.tag(&die) == DW_TAG_lexical_block { pending += DWARFType.children(&die) }
        }
        var result: [Dwarf_Die] = []
        func collect(_ parent: inout Dwarf_Die, depth: Int) {
            for var child in DWARFType.children(&parent) where !covered.contains(dwarf_dieoffset(&child)) {
                switch DWARFType.tag(&child) {
                case DW_TAG_formal_parameter where depth == 0, DW_TAG_variable: result.append(child)
                case DW_TAG_lexical_block where depth < 16: collect(&child, depth: depth + 1)
                default: break
                }
            }
        }
        collect(&origin, depth: 0)
        return result
    }

    // MARK: Scopes

    private func scope(of index: Int) -> FrameScope? {
        if let cached = scopes[index] { return cached }
        let scope = makeScope(index)
        scopes[index] = scope
        return scope
    }

    private func makeScope(_ index: Int) -> FrameScope? {
        guard let chain = modules.scopeChain(at: frames.lookupAddress(at: index)),
              var function = chain.levels.first?.die else { return nil }
        let (bias, pc) = (chain.bias, chain.pc)
        let registers = frames[index].registers
        var evaluator = LocationEvaluator(registers: registers, bias: bias, frameBase: nil, memory: memory)
        let threadLocalBlock = self.threadLocalBlock
        evaluator.threadLocalBlock = { threadLocalBlock(bias) }
        // The frame base (DW_AT_frame_base): a register, or the CFA.
        var attribute = Dwarf_Attribute()
        if dwarf_attr_integrate(&function, UInt32(DW_AT_frame_base), &attribute) != nil {
            switch evaluate(&attribute, pc: pc, evaluator: evaluator, frame: index) {
            case .register(let number): evaluator.frameBase = registers.values[number]
            case .memory(let address), .value(let address): evaluator.frameBase = address
            default: break
            }
        }
        return FrameScope(chain: chain, evaluator: evaluator)
    }

    /// Evaluates the location in `attribute` at `pc` in frame `frame`, with what only a frame can
    /// resolve: a register's value on entry (from the caller's call site) and what an implicit
    /// pointer points to.
    func evaluate(_ attribute: UnsafeMutablePointer<Dwarf_Attribute>, pc: Dwarf_Addr, evaluator: LocationEvaluator,
                  frame: Int, entryDepth: Int = 0) -> VariableLocation {
        var resolving = evaluator
        resolving.implicitPointerTarget = { [unowned self] op in
            // The DIE the pointer points to: its DW_AT_location, or its DW_AT_const_value.
            guard entryDepth < 2 else { return nil }
            var target = Dwarf_Attribute()
            guard dwarf_getlocation_implicit_pointer(attribute, op, &target) == 0 else { return nil }
            if Int(dwarf_whatattr(&target)) == DW_AT_const_value { return LocationEvaluator.constant(&target) }
            return evaluate(&target, pc: pc, evaluator: evaluator, frame: frame, entryDepth: entryDepth + 1)
        }
        resolving.entryValue = { [unowned self] op in
            guard entryDepth < 2 else { return nil }
            var block = Dwarf_Attribute()
            var inner: UnsafeMutablePointer<Dwarf_Op>? = nil
            var innerLength = 0
            guard dwarf_getlocation_attr(attribute, op, &block) == 0, dwarf_getlocation(&block, &inner, &innerLength) == 0,
                  innerLength == 1, let inner else { return nil }
            let atom = Int(inner.pointee.atom)
            let register: UInt16
            switch atom {
            case DW_OP_reg0...DW_OP_reg31: register = UInt16(atom - DW_OP_reg0)
            case DW_OP_regx, DW_OP_regval_type, DW_OP_GNU_regval_type: register = UInt16(inner.pointee.number)
            default: return nil
            }
            return entryValue(ofRegister: register, inFrame: frame, depth: entryDepth + 1)
        }
        return resolving.evaluate(attribute, pc: pc)
    }

    /// The value register `register` had when frame `frame`'s function was entered: the caller's
    /// call site for this return address says what it passed there (DW_AT_call_value).
    private func entryValue(ofRegister register: UInt16, inFrame frame: Int, depth: Int) -> UInt64? {
        let caller = frame + 1
        guard caller < frames.count, !frames[frame].isInlined, frames.isReturnAddress(at: caller),
              let callerScope = scope(of: caller),
              var function = callerScope.chain.levels.first?.die,
              var site = callSite(in: &function, returnAddress: frames[caller].pc - callerScope.bias) else { return nil }
        for var parameter in DWARFType.children(&site) {
            let tag = DWARFType.tag(&parameter)
            guard tag == DW_TAG_call_site_parameter || tag == DW_TAG_GNU_call_site_parameter else { continue }
            var location = Dwarf_Attribute()
            var ops: UnsafeMutablePointer<Dwarf_Op>? = nil
            var length = 0
            guard dwarf_attr(&parameter, UInt32(DW_AT_location), &location) != nil,
                  dwarf_getlocation(&location, &ops, &length) == 0, length == 1, let op = ops?.pointee else { continue }
            let atom = Int(op.atom)
            let number = atom == DW_OP_regx ? UInt16(op.number) : UInt16(truncatingIfNeeded: atom - DW_OP_reg0)
            guard (DW_OP_reg0...DW_OP_reg31).contains(atom) || atom == DW_OP_regx, number == register else { continue }
            var value = Dwarf_Attribute()
            guard dwarf_attr(&parameter, UInt32(DW_AT_call_value), &value) != nil
                    || dwarf_attr(&parameter, UInt32(DW_AT_GNU_call_site_value), &value) != nil else { return nil }
            // The call value is a DWARF expression for the value itself, in the caller's frame.
            switch evaluate(&value, pc: callerScope.pc, evaluator: callerScope.evaluator, frame: caller, entryDepth: depth) {
            case .value(let result), .memory(let result): return result
            case .register(let number): return frames[caller].registers.values[number]
            default: return nil
            }
        }
        return nil
    }

    /// The call site (DW_TAG_call_site, or GNU's) in `function`'s tree whose return address is
    /// `returnAddress` (module-relative).
    private func callSite(in function: UnsafeMutablePointer<Dwarf_Die>, returnAddress: Dwarf_Addr) -> Dwarf_Die? {
        var pending = DWARFType.children(function)
        var visited = 0
        while let next = pending.popLast(), visited < 20_000 {
            var die = next
            visited += 1
            switch DWARFType.tag(&die) {
            case DW_TAG_call_site, DW_TAG_GNU_call_site:
                var attribute = Dwarf_Attribute()
                var address: Dwarf_Addr = 0
                if dwarf_attr(&die, UInt32(DW_AT_call_return_pc), &attribute) != nil || dwarf_attr(&die, UInt32(DW_AT_low_pc), &attribute) != nil,
                   dwarf_formaddr(&attribute, &address) == 0, address == returnAddress {
                    return die
                }
            case DW_TAG_lexical_block, DW_TAG_inlined_subroutine:
                pending += DWARFType.children(&die)
            default:
                break
            }
        }
        return nil
    }

    // MARK: Values

    private func value(of die: UnsafeMutablePointer<Dwarf_Die>, kind: String, frame: Int, scope: FrameScope,
                       faultAddress: UInt64?) -> Variable? {
        guard let name = DWARFType.name(die) else { return nil }
        var type = Dwarf_Die()
        guard DWARFType.typeOf(die, into: &type) else { return nil }
        var attribute = Dwarf_Attribute()
        let location = dwarf_attr_integrate(die, UInt32(DW_AT_location), &attribute) != nil
            ? evaluate(&attribute, pc: scope.pc, evaluator: scope.evaluator, frame: frame)  // with the frame's resolvers
            : scope.evaluator.location(of: die, pc: scope.pc)  // a constant, or nothing
        // A variable-length array's bounds are evaluated in this frame.
        var formatter = self.formatter
        formatter.dynamicCount = { [unowned self] subrange in self.count(of: subrange, frame: frame, scope: scope) }
        return VariableValues.make(name: name, kind: kind, type: &type, location: location, registers: frames[frame].registers,
                                   formatter: formatter, faultAddress: faultAddress)
    }

    /// The element count of a subrange whose bound is an expression (DW_FORM_exprloc) or another
    /// variable (a reference to the artificial variable the compiler keeps the bound in).
    private func count(of subrange: Dwarf_Die, frame: Int, scope: FrameScope) -> Int? {
        var subrange = subrange
        for (code, adjust) in [(DW_AT_count, 0), (DW_AT_upper_bound, 1)] {
            var attribute = Dwarf_Attribute()
            guard dwarf_attr_integrate(&subrange, UInt32(code), &attribute) != nil else { continue }
            var bound: UInt64?
            var referenced = Dwarf_Die()
            if dwarf_formref_die(&attribute, &referenced) != nil {
                var location = Dwarf_Attribute()
                guard dwarf_attr_integrate(&referenced, UInt32(DW_AT_location), &location) != nil else { return nil }
                switch evaluate(&location, pc: scope.pc, evaluator: scope.evaluator, frame: frame) {
                case .memory(let address): bound = try? memory.read(UInt64.self, at: address)
                case .register(let number): bound = frames[frame].registers.values[number]
                case .value(let value): bound = value
                default: return nil
                }
            } else {
                switch evaluate(&attribute, pc: scope.pc, evaluator: scope.evaluator, frame: frame) {
                case .memory(let value), .value(let value): bound = value
                case .register(let number): bound = frames[frame].registers.values[number]
                default: return nil
                }
            }
            guard let bound, Int64(bitPattern: bound) >= -1 else { return nil }
            return Int(clamping: Int64(bitPattern: bound)) + adjust
        }
        return nil
    }
}
