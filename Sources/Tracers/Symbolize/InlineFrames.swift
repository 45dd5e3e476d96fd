// InlineFrames: the functions inlined at an address, from the DWARF scopes around it (libdw's
// dwarf_getscopes): innermost inlined body first, each with where it was called from, as
// eu-stack -i and addr2line -i show them.

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
    /// The scopes at `address` (an address of `module`'s process); empty when there is no DWARF.
    ///
    /// The DIE tree of the address's compilation unit is walked with libdw (dwarf_child,
    /// dwarf_siblingof, dwarf_haspc) from the unit down to the innermost scope holding the
    /// address. (elfutils 0.188's dwarf_getscopes misses an inlined call whose range ends right
    /// after the call instruction, where a return address points; gdb finds it, and so do we.)
    static func scopes(module: OpaquePointer, address: UInt64) -> ScopeInfo {
        guard let (cu, bias) = CompileUnits.unit(module: module, address: address) else { return ScopeInfo() }
        let pc = Dwarf_Addr(address) - bias
        var files: OpaquePointer? = nil
        var fileCount = 0
        _ = dwarf_getsrcfiles(cu, &files, &fileCount)
        // Outermost first: the subprogram, then the inlined subroutines inside it.
        var path: [Dwarf_Die] = []
        descend(from: cu.pointee, pc: pc, into: &path, depth: 0)
        var info = ScopeInfo()
        for var die in path.reversed() {
            let tag = dwarf_tag(&die)
            if tag == DW_TAG_subprogram {
                info.function = name(of: &die)
                break
            }
            guard tag == DW_TAG_inlined_subroutine else { continue }
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

    /// Appends to `path` the chain of code scopes under `parent` that hold `pc`, outermost first.
    /// Namespaces and types are searched through (C++ puts definitions inside them).
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
