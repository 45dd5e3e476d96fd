// ScopeChain: the DWARF scopes holding one code address, from its compilation unit down to the
// innermost lexical block: the function (DW_TAG_subprogram), the bodies inlined into it
// (DW_TAG_inlined_subroutine) and the blocks between them. The symbolizer names the inlined
// levels from it and finds the line in its unit; the variables reader lists each level's
// variables. Both ask `ModuleIndex.scopeChain(at:)`, which walks the DIE tree (and, when
// .debug_aranges fails, scans the units: CompileUnits) once per address and session.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils

/// The scopes holding one address of a module with DWARF. The DIEs point into the module's
/// libdw data: valid as long as the `ModuleIndex` that made the chain.
package struct ScopeChain {
    /// The module's DWARF bias (the chain's address is `pc + bias`).
    package var bias: Dwarf_Addr
    /// The address in the module's DWARF (address - bias).
    package var pc: Dwarf_Addr
    /// The compilation unit holding the address.
    package var unit: Dwarf_Die
    /// The code scopes holding `pc`, outermost first: a subprogram, then lexical blocks and
    /// inlined subroutines. Empty when the unit has no function there.
    package var path: [Dwarf_Die]

    /// One function level: the function itself or a body inlined into it, with the lexical
    /// blocks inside it (outermost first) up to the next level.
    package struct Level {
        /// The DW_TAG_subprogram (level 0) or DW_TAG_inlined_subroutine DIE.
        package var die: Dwarf_Die
        package var blocks: [Dwarf_Die]
    }

    /// The function levels at `pc`, outermost first: the innermost subprogram (the physical
    /// frame's function), then the bodies inlined into it; empty without a subprogram.
    package var levels: [Level] {
        guard let start = path.lastIndex(where: { var die = $0; return dwarf_tag(&die) == DW_TAG_subprogram }) else { return [] }
        var levels: [Level] = []
        for var die in path[start...] {
            let tag = dwarf_tag(&die)
            if tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine {
                levels.append(Level(die: die, blocks: []))
            } else {
                levels[levels.count - 1].blocks.append(die)
            }
        }
        return levels
    }

    /// The chain of `address` in `module`; nil when no unit of the module holds it.
    static func make(module: OpaquePointer, address: UInt64) -> ScopeChain? {
        guard let (unit, bias) = CompileUnits.unit(module: module, address: address) else { return nil }
        let pc = Dwarf_Addr(address) - bias
        var path: [Dwarf_Die] = []
        descend(from: unit.pointee, pc: pc, into: &path, depth: 0)
        return ScopeChain(bias: bias, pc: pc, unit: unit.pointee, path: path)
    }

    /// Appends to `path` the chain of code scopes under `parent` that hold `pc`, outermost first.
    /// Namespaces and types are searched through (C++ puts definitions inside them). (elfutils
    /// 0.188's dwarf_getscopes misses an inlined call whose range ends right after the call
    /// instruction, where a return address points; gdb finds it, and so does this walk.)
    static func descend(from parent: Dwarf_Die, pc: Dwarf_Addr, into path: inout [Dwarf_Die], depth: Int) {
        guard depth < 64 else { return }
        var parent = parent
        var child = Dwarf_Die()
        guard dwarf_child(&parent, &child) == 0 else { return }
        repeat {
            let tag = dwarf_tag(&child)
            switch Int(tag) {
            case Int(DW_TAG_subprogram), Int(DW_TAG_inlined_subroutine), Int(DW_TAG_lexical_block):
                if dwarf_haspc(&child, pc) == 1 {
                    path.append(child)
                    descend(from: child, pc: pc, into: &path, depth: depth + 1)
                    return
                }
            case Int(DW_TAG_namespace), Int(DW_TAG_class_type), Int(DW_TAG_structure_type), Int(DW_TAG_union_type):
                let before = path.count
                descend(from: child, pc: pc, into: &path, depth: depth + 1)
                if path.count > before { return }
            default:
                break
            }
            var next = Dwarf_Die()
            guard dwarf_siblingof(&child, &next) == 0 else { return }
            child = next
        } while true
    }
}

extension ModuleIndex {
    /// The DWARF scope chain at `address` (a lookup address: inside the call for a return
    /// address), computed on the first ask and remembered for this session; nil outside every
    /// module or without DWARF for the address.
    package func scopeChain(at address: UInt64) -> ScopeChain? {
        if let known = scopeChains[address] { return known }
        let chain = module(at: address).flatMap { ScopeChain.make(module: $0, address: address) }
        scopeChainWalks += 1
        scopeChains[address] = chain
        return chain
    }
}
