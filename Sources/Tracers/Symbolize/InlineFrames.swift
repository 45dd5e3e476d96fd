// InlineFrames: the functions inlined at an address, named from its DWARF scope chain
// (ScopeChain): innermost inlined body first, each with where it was called from, as eu-stack -i
// and addr2line -i show them.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

/// One level of an inline chain.
struct InlineLevel: Equatable {
    /// The inlined function (demangled).
    var function: String
    /// Where it was called from (inlined into the next level).
    var callFile: String?
    var callLine: Int?
    var callColumn: Int?
}

/// What the DWARF scopes at an address say: the inlined functions there and the function that
/// contains them.
struct ScopeInfo: Equatable {
    /// Inlined functions, innermost first.
    var inlined: [InlineLevel] = []
    /// The containing function's DWARF name (demangled), when there is DWARF for the address.
    var function: String?
}

enum InlineFrames {
    /// What the scope chain at an address says (libdw): the function's DWARF name and the
    /// bodies inlined into it, innermost first, each with its call site. (Not dwarf_getscopes:
    /// `ScopeChain` says why.)
    static func scopes(in chain: ScopeChain) -> ScopeInfo {
        let levels = chain.levels
        guard var function = levels.first?.die else { return ScopeInfo() }
        var unit = chain.unit
        var files: OpaquePointer? = nil
        var fileCount = 0
        _ = dwarf_getsrcfiles(&unit, &files, &fileCount)
        var info = ScopeInfo()
        info.function = name(of: &function)
        for var die in levels.dropFirst().reversed().map(\.die) {
            var level = InlineLevel(function: name(of: &die) ?? "??")
            if let files, let call = unsigned(&die, DW_AT_call_file), Int(call) < fileCount,
               let file = dwarf_filesrc(files, Int(call), nil, nil) {
                level.callFile = String(cString: file)
            }
            level.callLine = unsigned(&die, DW_AT_call_line).map(Int.init)
            level.callColumn = unsigned(&die, DW_AT_call_column).map(Int.init)
            info.inlined.append(level)
        }
        return info
    }

    /// The linkage name (demangled) or the plain name of a function DIE, following its abstract
    /// origin.
    static func name(of die: UnsafeMutablePointer<Dwarf_Die>) -> String? {
        var attribute = Dwarf_Attribute()
        for code in [DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name] {
            if dwarf_attr_integrate(die, UInt32(code), &attribute) != nil, let text = dwarf_formstring(&attribute) {
                return Demangler.demangle(String(cString: text))
            }
        }
        return nil
    }

    static func unsigned(_ die: UnsafeMutablePointer<Dwarf_Die>, _ code: Int) -> UInt64? {
        var attribute = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        guard dwarf_attr_integrate(die, UInt32(code), &attribute) != nil, dwarf_formudata(&attribute, &value) == 0 else { return nil }
        return value
    }
}
