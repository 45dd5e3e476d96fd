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
    /// Distinct addresses looked up (for the benchmark and tests).
    public var lookupCount: Int { cache.count }

    public init(modules: ModuleIndex?) { self.modules = modules }

    /// Fills in the symbol fields of `frames`. Return addresses (frames above 0 that do not follow a
    /// signal frame) are looked up at pc - 1, inside the call instruction, so that the line is the
    /// call's and a call at the very end of a function is not attributed to the next one.
    public func symbolize(_ frames: [Frame]) -> [Frame] {
        var result = frames
        for index in result.indices {
            let pc = result[index].pc
            let isReturnAddress = index > 0 && !result[index - 1].isSignalFrame
            let lookup = isReturnAddress && pc > 0 ? pc - 1 : pc
            var info = symbol(at: lookup)
            // Offsets are of the pc itself, not of the address looked up.
            let adjust: UInt64 = isReturnAddress ? 1 : 0
            info.moduleOffset = info.moduleOffset.map { $0 + adjust }
            info.functionOffset = info.functionOffset.map { $0 + adjust }
            result[index].symbol = info
        }
        return result
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
        let name = dwfl_module_info(module, nil, &start, &end, nil, nil, &mainFile, nil)
        // libdwfl can answer with a neighbouring module for an address in no module at all (a
        // jump into the stack or the heap): such an address belongs to none.
        guard address >= start && address < end else { return info }
        if let name { info.module = String(cString: name) }
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
        if let line = dwfl_module_getsrc(module, Dwarf_Addr(address)) {
            var lineNumber: Int32 = 0, column: Int32 = 0
            if let file = dwfl_lineinfo(line, nil, &lineNumber, &column, nil, nil) {
                info.file = String(cString: file)
                info.line = lineNumber > 0 ? Int(lineNumber) : nil
                info.column = column > 0 ? Int(column) : nil
            }
        }
        return info
    }
}
