// Symbolizer: names the frames of an unwound stack with elfutils' libdwfl: module, function
// (demangled) and offset, source file, line and column. Lookups are cached by address, so threads
// with the same stacks cost one lookup per distinct pc.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

/// Symbolizes addresses of one snapshot's modules. Use from one thread at a time.
public final class Symbolizer {
    private let modules: ModuleIndex?
    private var cache: [UInt64: SymbolInfo] = [:]
    private var scopeCache: [UInt64: ScopeInfo] = [:]
    /// Distinct addresses looked up (for the benchmark and tests).
    public var lookupCount: Int { cache.count }

    public init(modules: ModuleIndex?) { self.modules = modules }

    /// Fills in the symbol fields of `frames` and their inlined levels. Return addresses (frames
    /// above 0 that do not follow a signal frame) are looked up at pc - 1, inside the call
    /// instruction (`lookupAddress(at:)`), so that the line is the call's and a call at the very
    /// end of a function is not attributed to the next one; offsets are reported for the pc
    /// itself. Functions inlined at the pc become the frame's `inlined` levels, innermost first;
    /// variables the variables tracer already gave a level stay with it.
    public func symbolize(_ frames: [Frame]) -> [Frame] {
        var result = frames
        for index in frames.indices {
            let physical = frames[index]
            let lookup = frames.lookupAddress(at: index)
            var info = symbol(at: lookup)
            // Offsets are of the pc itself, not of the address looked up.
            let adjust = physical.pc - lookup
            info.moduleOffset = info.moduleOffset.map { $0 + adjust }
            info.functionOffset = info.functionOffset.map { $0 + adjust }
            // Innermost inlined body first: it has the line-table position; each next level is
            // positioned at the call site of the one inside it.
            var file = info.file, line = info.line, column = info.column
            let scopes = scopeInfo(at: lookup)
            // DWARF's name of the function (__libc_start_main_impl) over the symbol table's
            // (__libc_start_main@@GLIBC_2.34), as eu-stack and gdb name it.
            if let function = scopes.function { info.function = function }
            var levels: [InlinedCall] = []
            for (position, level) in scopes.inlined.enumerated() {
                // Both come from the one scope chain at this address: the levels line up.
                let variables = position < physical.inlined.count ? physical.inlined[position].variables : []
                levels.append(InlinedCall(function: level.function, file: file, line: line, column: column, variables: variables))
                file = level.callFile ?? file
                line = level.callLine
                column = level.callColumn
            }
            info.file = file
            info.line = line
            info.column = column
            result[index].symbol = info
            result[index].inlined = levels
        }
        return result
    }

    /// The DWARF scopes at `address`, named (cached; the scope chain itself is the module
    /// index's, shared with the variables reader).
    private func scopeInfo(at address: UInt64) -> ScopeInfo {
        if let cached = scopeCache[address] { return cached }
        let info = modules?.scopeChain(at: address).map(InlineFrames.scopes(in:)) ?? ScopeInfo()
        scopeCache[address] = info
        return info
    }

    /// What is known about `address` (cached).
    public func symbol(at address: UInt64) -> SymbolInfo {
        if let cached = cache[address] { return cached }
        let info = lookUp(address)
        cache[address] = info
        return info
    }

    private func lookUp(_ address: UInt64) -> SymbolInfo {
        var info = SymbolInfo()
        guard let modules, let module = modules.module(at: address) else { return info }
        var start: Dwarf_Addr = 0, end: Dwarf_Addr = 0
        var mainFile: UnsafePointer<CChar>? = nil
        if let name = dwfl_module_info(module, nil, &start, &end, nil, nil, &mainFile, nil) {
            info.module = String(cString: name)
        }
        var bias: Dwarf_Addr = 0
        if dwfl_module_getelf(module, &bias) != nil {
            info.moduleOffset = address - bias
        } else {
            info.moduleOffset = address - start
        }
        var offset: GElf_Off = 0
        var symbol = GElf_Sym()
        if let name = dwfl_module_addrinfo(module, Dwarf_Addr(address), &offset, &symbol, nil, nil, nil) {
            info.function = Demangler.demangle(String(cString: name))
            info.functionOffset = offset
        }
        // Not dwfl_module_getsrc: its unit can be the wrong one (CompileUnits says when).
        if let chain = modules.scopeChain(at: address), let found = CompileUnits.line(in: chain) {
            (info.file, info.line, info.column) = (found.file, found.line, found.column)
        }
        info.buildID = modules.buildID(of: info.module)
        return info
    }
}
