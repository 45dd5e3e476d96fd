// CompileUnits: the compilation unit holding an address. libdwfl finds it through
// .debug_aranges; compilers that do not emit that section (clang and swiftc with DWARF 5, unless
// asked) leave elfutils 0.188 with no unit, hence no line and no inline frames. Worse, in a binary
// that mixes both kinds of unit (gcc's and clang's objects, or one target built with other flags)
// libdwfl answers with the unit whose arange starts last before the address, even when that
// range ends before it: a wrong unit, so no line, or a wrong one. So its answer is checked with
// dwarf_haspc, and otherwise every unit of the module is asked. ModuleIndex.scopeChain(at:) asks
// once per address and session; everything else reads the unit from its chain.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils

package enum CompileUnits {
    /// The unit holding `address` and the module's bias; nil without DWARF for it.
    package static func unit(module: OpaquePointer, address: UInt64) -> (die: UnsafeMutablePointer<Dwarf_Die>, bias: Dwarf_Addr)? {
        var bias: Dwarf_Addr = 0
        if let die = dwfl_module_addrdie(module, Dwarf_Addr(address), &bias),
           dwarf_haspc(die, Dwarf_Addr(address) - bias) == 1 { return (die, bias) }
        var unit: UnsafeMutablePointer<Dwarf_Die>? = nil
        var scanned = 0
        while let next = dwfl_module_nextcu(module, unit, &bias), scanned < 100_000 {
            if dwarf_haspc(next, Dwarf_Addr(address) - bias) == 1 { return (next, bias) }
            unit = next
            scanned += 1
        }
        return nil
    }

    /// File, line and column of the chain's address, from the line table of its unit.
    package static func line(in chain: ScopeChain) -> (file: String, line: Int?, column: Int?)? {
        var unit = chain.unit
        guard let line = dwarf_getsrc_die(&unit, chain.pc), let file = dwarf_linesrc(line, nil, nil) else { return nil }
        var number: Int32 = 0, column: Int32 = 0
        _ = dwarf_lineno(line, &number)
        _ = dwarf_linecol(line, &column)
        return (String(cString: file), number > 0 ? Int(number) : nil, column > 0 ? Int(column) : nil)
    }
}
