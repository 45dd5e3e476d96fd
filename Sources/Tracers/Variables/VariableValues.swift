// VariableValues: from a variable's evaluated location to what the report shows: its bytes (read
// from memory, taken from a saved register, computed, or assembled from pieces), the value as gdb
// prints it, a summary of what a pointer points to, and whether it is tied to the fault address.

import CElfutils
import TracerKit

enum VariableValues {
    /// The report's entry for a variable of `type` at `location`.
    static func make(name: String, kind: String, type: UnsafeMutablePointer<Dwarf_Die>, location: VariableLocation,
                     registers: FrameRegisters, formatter: ValueFormatter, faultAddress: UInt64?) -> Variable {
        var variable = Variable(name: name, kind: kind, type: DWARFType.typeName(type), value: nil)
        if case .implicitPointer(let target, let offset) = location {
            variable.value = "<synthetic pointer>"
            variable.pointee = syntheticPointee(target, offset: offset, pointerType: type, registers: registers, formatter: formatter)
            return variable
        }
        guard let size = formatter.size(of: type) else {
            variable.note = "unavailable: its type has no known size"
            return variable
        }
        switch bytes(of: location, size: min(size, formatter.options.maxValueBytes), registers: registers, formatter: formatter) {
        case .failure(let reason):
            variable.note = reason.text
        case .success(let value):
            variable.value = formatter.format(value, type: type)
            variable.pointee = formatter.pointee(of: value, type: type)
            if let faultAddress, value.isComplete, value.count == 8, let remark = faultRemark(value, type: type, formatter: formatter,
                                                                                           faultAddress: faultAddress) {
                variable.note = remark
            }
        }
        return variable
    }

    struct Reason: Error { var text: String }

    /// The value's bytes, `size` of them.
    static func bytes(of location: VariableLocation, size: Int, registers: FrameRegisters,
                      formatter: ValueFormatter) -> Result<ValueBytes, Reason> {
        func little(_ value: UInt64, _ count: Int) -> [UInt8] {
            (0..<count).map { $0 < 8 ? UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) : 0 }
        }
        switch location {
        case .memory(let address):
            guard size > 0 else { return .success(ValueBytes([])) }
            guard let data = formatter.readValue(at: address, count: size) else {
                // "<error: Cannot access memory at …>" or "<not read: the … budget is spent>".
                let text = String(formatter.cannotAccess(address).dropFirst().dropLast())
                return .failure(Reason(text: text.hasPrefix("not read") ? text : "unavailable: " + text))
            }
            return .success(ValueBytes(data))
        case .register(let number):
            guard let value = registers.values[number] else { return .failure(Reason(text: LocationEvaluator.notSaved(number))) }
            guard size <= 8 else {
                return .failure(Reason(text: "unavailable: its \(size) bytes are in register \(DWARFRegister.name(number)), which is not captured"))
            }
            return .success(ValueBytes(little(value, size)))
        case .value(let value):
            return .success(ValueBytes(little(value, size)))
        case .bytes(let data):
            let padded = Array((data + [UInt8](repeating: 0, count: max(0, size - data.count))).prefix(size))
            let known: [Bool]? = data.count >= size ? nil : (0..<size).map { index in index < data.count }
            return .success(ValueBytes(padded, known: known))
        case .pieces(let pieces):
            var result: [UInt8] = []
            var known: [Bool] = []
            for piece in pieces {
                switch bytes(of: piece.location, size: piece.size, registers: registers, formatter: formatter) {
                case .success(let part):
                    result += part.bytes
                    known += part.known ?? [Bool](repeating: true, count: part.count)
                case .failure:
                    result += [UInt8](repeating: 0, count: piece.size)
                    known += [Bool](repeating: false, count: piece.size)
                }
            }
            guard known.contains(true) else { return .failure(Reason(text: "optimized out")) }
            let padded = Array((result + [UInt8](repeating: 0, count: max(0, size - result.count))).prefix(size))
            let paddedKnown = Array((known + [Bool](repeating: false, count: max(0, size - known.count))).prefix(size))
            return .success(ValueBytes(padded, known: paddedKnown))
        case .implicitPointer:
            return .failure(Reason(text: "optimized out (a synthetic pointer inside a larger value)"))
        case .none(let reason):
            return .failure(Reason(text: reason))
        }
    }

    /// What a synthetic pointer points to: `offset` bytes into the value at `target`, summarized as
    /// a real pointer's pointee is.
    private static func syntheticPointee(_ target: VariableLocation, offset: Int64, pointerType: UnsafeMutablePointer<Dwarf_Die>,
                                         registers: FrameRegisters, formatter: ValueFormatter) -> String? {
        var pointee = Dwarf_Die()
        guard offset >= 0, var peeled = DWARFType.peeled(pointerType), DWARFType.typeOf(&peeled, into: &pointee),
              let size = formatter.size(of: &pointee), size > 0, Int(offset) + size <= formatter.options.maxValueBytes,
              case .success(let bytes) = bytes(of: target, size: Int(offset) + size, registers: registers, formatter: formatter) else {
            return nil
        }
        return formatter.summarizing.format(bytes.slice(Int(offset)..<Int(offset) + size), type: &pointee)
    }

    /// "points at the faulting address 0x0" when a pointer's value is the fault address or
    /// points at most a page below it (the access was through it, at an offset).
    private static func faultRemark(_ value: ValueBytes, type: UnsafeMutablePointer<Dwarf_Die>, formatter: ValueFormatter,
                                    faultAddress: UInt64) -> String? {
        guard var peeled = DWARFType.peeled(type), DWARFType.tag(&peeled) == DW_TAG_pointer_type else { return nil }
        let pointer = formatter.integer(value.bytes, signed: false)
        guard faultAddress >= pointer, faultAddress - pointer < 4096 else { return nil }
        let distance = faultAddress - pointer
        return distance == 0 ? "points at the faulting address \(faultAddress.hex)"
            : "the faulting address \(faultAddress.hex) is \(distance) bytes past where it points"
    }
}
