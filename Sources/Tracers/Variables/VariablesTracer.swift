// VariablesTracer (`use = "variables"`): parameters and locals in scope at each frame's pc, with
// their values, read from the stopped target: DWARF (libdw) names the variables, types and
// location expressions; the frame's registers from the unwinder and the target's memory give the
// values. It runs after the unwinder, in the stopped window, because values live in the target.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

/// Collects variables of the crashing thread's frames (or of every thread's).
public final class VariablesTracer: Tracer {
    public let name = "variables"
    public let allThreads: Bool
    public let maxFrames: Int
    public let maxVariablesPerFrame = 64

    public init(allThreads: Bool = false, maxFrames: Int = 16) {
        self.allThreads = allThreads
        self.maxFrames = maxFrames
    }

    public func capture(snapshot: ProcessSnapshot, report: inout CrashReport, deadline: Deadline) {
        guard let modules = snapshot.modules else { return }
        let started = Deadline.now()
        var count = 0
        let faultAddress = report.fault?.signal.flatMap { $0.hasFaultAddress ? $0.address : nil }
        let formatter = ValueFormatter(memory: snapshot.memory)
        for threadIndex in report.threads.indices where allThreads || report.threads[threadIndex].isCrashing {
            let frames = report.threads[threadIndex].frames
            for frameIndex in frames.indices.prefix(maxFrames) where !deadline.hasExpired {
                let frame = frames[frameIndex]
                let pc = frames.lookupAddress(at: frameIndex)
                guard let module = modules.module(at: pc) else { continue }
                // A null-page fault is the crashing frame's business: elsewhere every NULL pointer
                // would "point at" it.
                let nearFault = faultAddress.flatMap { $0 >= FaultClassifier.nullRegionSize || (frameIndex == 0 && threadIndex == 0) ? $0 : nil }
                let variables = collect(module: module, pc: pc, registers: frame.registers, memory: snapshot.memory,
                                        formatter: formatter, faultAddress: nearFault)
                report.threads[threadIndex].frames[frameIndex].variables = variables
                count += variables.count
            }
        }
        report.notes.append("variables: \(count) read in \(Deadline.millisecondsSince(started)) ms")
    }

    private func collect(module: OpaquePointer, pc: UInt64, registers: FrameRegisters, memory: any MemoryReader,
                         formatter: ValueFormatter, faultAddress: UInt64?) -> [Variable] {
        guard let (unit, bias) = CompileUnits.unit(module: module, address: pc) else { return [] }
        var path: [Dwarf_Die] = []
        InlineFrames.descend(from: unit.pointee, pc: pc - bias, into: &path, depth: 0)
        guard var function = path.first(where: { var die = $0; return Int(dwarf_tag(&die)) == DW_TAG_subprogram }) else { return [] }
        // The frame base (DW_AT_frame_base: a register, or the CFA).
        var frameBase: UInt64? = nil
        var attribute = Dwarf_Attribute()
        if dwarf_attr_integrate(&function, UInt32(DW_AT_frame_base), &attribute) != nil {
            let evaluator = LocationEvaluator(registers: registers, bias: bias, frameBase: nil, memory: memory)
            switch evaluate(&attribute, pc: pc - bias, evaluator) {
            case .register(let number): frameBase = registers.values[number]
            case .memory(let address), .value(let address): frameBase = address
            default: break
            }
        }
        let evaluator = LocationEvaluator(registers: registers, bias: bias, frameBase: frameBase, memory: memory)
        var variables: [Variable] = []
        var scope: String? = nil
        for var die in path {
            let tag = Int(dwarf_tag(&die))
            if tag == DW_TAG_inlined_subroutine { scope = InlineFrames.name(of: &die) }
            var child = Dwarf_Die()
            guard dwarf_child(&die, &child) == 0 else { continue }
            repeat {
                let childTag = Int(dwarf_tag(&child))
                if (childTag == DW_TAG_formal_parameter || childTag == DW_TAG_variable), variables.count < maxVariablesPerFrame,
                   let variable = value(of: &child, kind: childTag == DW_TAG_formal_parameter ? "parameter" : "local",
                                        pc: pc - bias, evaluator: evaluator, formatter: formatter, faultAddress: faultAddress) {
                    var placed = variable
                    placed.scope = scope
                    variables.append(placed)
                }
                var next = Dwarf_Die()
                guard dwarf_siblingof(&child, &next) == 0 else { break }
                child = next
            } while true
        }
        return variables
    }

    private func value(of die: UnsafeMutablePointer<Dwarf_Die>, kind: String, pc: Dwarf_Addr, evaluator: LocationEvaluator,
                       formatter: ValueFormatter, faultAddress: UInt64?) -> Variable? {
        var nameAttribute = Dwarf_Attribute()
        guard dwarf_attr_integrate(die, UInt32(DW_AT_name), &nameAttribute) != nil, let cName = dwarf_formstring(&nameAttribute) else {
            return nil
        }
        var type = Dwarf_Die()
        guard ValueFormatter.typeOf(die, into: &type) else { return nil }
        var variable = Variable(name: String(cString: cName), kind: kind, type: ValueFormatter.typeName(&type), value: nil)
        let size = dwarf_aggregate_size_or(&type)
        var attribute = Dwarf_Attribute()
        let location: VariableLocation
        if dwarf_attr(die, UInt32(DW_AT_location), &attribute) != nil {
            location = evaluate(&attribute, pc: pc, evaluator)
        } else if dwarf_attr(die, UInt32(DW_AT_const_value), &attribute) != nil {
            var constant: Dwarf_Word = 0
            location = dwarf_formudata(&attribute, &constant) == 0 ? .value(constant) : .none("optimized out")
        } else {
            location = .none("optimized out")
        }
        var raw: UInt64? = nil
        switch location {
        case .memory(let address):
            variable.value = formatter.read(address: address, type: &type)
            if size == 8 { raw = try? evaluator.memory.read(UInt64.self, at: address) }
        case .register(let number):
            if let value = evaluator.registers.values[number], size > 0, size <= 8 {
                variable.value = formatter.format(bytes(value, size), type: &type)
                raw = value
            } else {
                variable.note = "unavailable: its register was not saved in this frame"
            }
        case .value(let value):
            variable.value = formatter.format(bytes(value, max(1, min(size, 8))), type: &type)
            raw = value
        case .bytes(let data):
            variable.value = formatter.format(data, type: &type)
        case .none(let reason):
            variable.note = reason
        }
        if let faultAddress, let raw, variable.type.hasSuffix("*"), faultAddress >= raw, faultAddress - raw < 4096 {
            variable.note = "points at the faulting address \(faultAddress.hex)"
        }
        return variable
    }

    private func evaluate(_ attribute: UnsafeMutablePointer<Dwarf_Attribute>, pc: Dwarf_Addr,
                          _ evaluator: LocationEvaluator) -> VariableLocation {
        var ops: UnsafeMutablePointer<Dwarf_Op>? = nil
        var length = 0
        let found = dwarf_getlocation_addr(attribute, pc, &ops, &length, 1)
        if found == 0 { return .none("optimized out") }
        guard found > 0, let ops else { return .none("unavailable: no location") }
        var resolving = evaluator
        resolving.resolveIndex = { op in
            var result = Dwarf_Attribute()
            var address: Dwarf_Addr = 0
            guard dwarf_getlocation_attr(attribute, op, &result) == 0, dwarf_formaddr(&result, &address) == 0 else { return nil }
            return address
        }
        return resolving.evaluate(ops, count: length)
    }

    private func bytes(_ value: UInt64, _ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}
