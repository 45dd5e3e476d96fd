// GlobalVariables: the named globals an operator asked for (`globals = ["…"]`), found in the
// modules' DWARF (libdw) and read from the stopped target. A module is searched only when its
// symbol table has the name, so a miss costs a symbol-table scan, not a walk of every unit.

import CElfutils
import TracerKit

enum GlobalVariables {
    /// The globals `names` ("counter", "ns::state"), each with its value or why it has none.
    /// Thread-local ones are read in the thread `threadLocalBlock` stands for (by module load bias).
    static func read(_ names: [String], modules: ModuleIndex, formatter: ValueFormatter, budget: BudgetedMemoryReader,
                     threadLocalBlock: @escaping (UInt64) -> Result<UInt64, ThreadLocalStorage.Failure>) -> [Variable] {
        var found: [String: Variable] = [:]
        for module in modules.handles() where found.count < names.count && !budget.isSpent {
            let wanted = names.filter { found[$0] == nil && hasSymbol(module, named: $0) }
            guard !wanted.isEmpty else { continue }
            var moduleName: UnsafePointer<CChar>? = nil
            moduleName = dwfl_module_info(module, nil, nil, nil, nil, nil, nil, nil)
            var unit: UnsafeMutablePointer<Dwarf_Die>? = nil
            var bias: Dwarf_Addr = 0
            while let next = dwfl_module_nextcu(module, unit, &bias), !budget.isSpent {
                unit = next
                search(next.pointee, prefix: "", wanted: wanted, depth: 0) { name, die in
                    guard found[name] == nil else { return }
                    var variable = value(of: &die, name: name, bias: bias, memory: budget, formatter: formatter,
                                         threadLocalBlock: threadLocalBlock)
                    variable.scope = moduleName.map { String(cString: $0) }
                    found[name] = variable
                }
                if wanted.allSatisfy({ found[$0] != nil }) { break }
            }
        }
        return names.map { name in
            found[name] ?? Variable(name: name, kind: "global", type: "?", value: nil,
                                    note: budget.isSpent ? "not read: \(budget.spentReason ?? "the budget") is spent"
                                        : "not found: no module's debug information defines it")
        }
    }

    /// Whether `module`'s symbol table has a symbol for `name` (a C name, or the demangled name of
    /// a C++ one).
    private static func hasSymbol(_ module: OpaquePointer, named name: String) -> Bool {
        let count = dwfl_module_getsymtab(module)
        guard count > 0 else { return false }
        let last = name.split(separator: ":").last.map(String.init) ?? name
        for index in 0..<count {
            var symbol = GElf_Sym()
            var address: GElf_Addr = 0
            guard let symbolName = dwfl_module_getsym_info(module, index, &symbol, &address, nil, nil, nil) else { continue }
            let text = String(cString: symbolName)
            if text == name || (text.hasPrefix("_Z") && text.contains(last) && Demangler.demangle(text) == name) { return true }
        }
        return false
    }

    /// Calls `visit` for each variable definition under `parent` (namespaces searched through)
    /// whose qualified name is in `wanted`.
    private static func search(_ parent: Dwarf_Die, prefix: String, wanted: [String], depth: Int,
                               visit: (String, inout Dwarf_Die) -> Void) {
        var parent = parent
        for var child in DWARFType.children(&parent) {
            let tag = DWARFType.tag(&child)
            if tag == DW_TAG_namespace, depth < 8 {
                let name = DWARFType.name(&child).map { prefix + $0 + "::" } ?? prefix
                search(child, prefix: name, wanted: wanted, depth: depth + 1, visit: visit)
                continue
            }
            guard tag == DW_TAG_variable, !DWARFType.has(&child, DW_AT_declaration),
                  DWARFType.has(&child, DW_AT_location) || DWARFType.has(&child, DW_AT_const_value) else { continue }
            var attribute = Dwarf_Attribute()
            guard dwarf_attr_integrate(&child, UInt32(DW_AT_name), &attribute) != nil, let text = dwarf_formstring(&attribute) else { continue }
            let name = String(cString: text)
            // A definition outside its namespace (DW_AT_specification) is matched by the last component.
            if let match = wanted.first(where: { $0 == prefix + name || ($0.hasSuffix("::" + name) && DWARFType.has(&child, DW_AT_specification)) }) {
                visit(match, &child)
            }
        }
    }

    private static func value(of die: inout Dwarf_Die, name: String, bias: Dwarf_Addr, memory: any MemoryReader,
                              formatter: ValueFormatter,
                              threadLocalBlock: @escaping (UInt64) -> Result<UInt64, ThreadLocalStorage.Failure>) -> Variable {
        var type = Dwarf_Die()
        guard DWARFType.typeOf(&die, into: &type) else {
            return Variable(name: name, kind: "global", type: "?", value: nil, note: "unavailable: no type")
        }
        var evaluator = LocationEvaluator(registers: FrameRegisters(), bias: bias, frameBase: nil, memory: memory)
        evaluator.threadLocalBlock = { threadLocalBlock(bias) }
        let location = evaluator.location(of: &die, pc: nil)
        return VariableValues.make(name: name, kind: "global", type: &type, location: location, registers: FrameRegisters(),
                                   formatter: formatter, faultAddress: nil)
    }
}
