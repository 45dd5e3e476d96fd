// ModuleIndex: the target's loaded ELF modules as elfutils' libdwfl sees them (from
// /proc/PID/maps, with their files, build-ids and separate debug files). It is captured once per
// snapshot; the symbolizer asks it for names and lines.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import CInvokerShim

/// A loaded ELF module.
public struct LoadedModule: Sendable, Equatable {
    /// The file the module was loaded from (as the target's maps name it).
    public var path: String
    /// Lowest and highest address of the module's mappings.
    public var start: UInt64
    public var end: UInt64
    /// The GNU build-id, lowercase hex, if the module has one.
    public var buildID: String?

    public init(path: String, start: UInt64, end: UInt64, buildID: String?) {
        self.path = path; self.start = start; self.end = end; self.buildID = buildID
    }
}

/// The libdwfl session for one target process. Not thread-safe: use from one thread.
public final class ModuleIndex {
    /// The libdwfl handle; owned here, ended in `deinit`.
    package let dwfl: OpaquePointer
    public private(set) var modules: [LoadedModule] = []
    /// Why modules could not be listed, if they could not.
    public private(set) var problem: String?
    /// The process's executable (/proc/PID/exe), when it can be read.
    public let executablePath: String?
    /// The DWARF scope chain of each code address asked (nil: no DWARF there), computed once
    /// (`scopeChain(at:)`): the symbolizer and the variables reader share it.
    var scopeChains: [UInt64: ScopeChain?] = [:]
    /// How many scope chains were walked (addresses asked for the first time), for the tests.
    package internal(set) var scopeChainWalks = 0

    /// Reports the modules of live process `pid` (reads /proc/PID/maps).
    public init?(pid: Int32) {
        guard let handle = ivk_dwfl_begin_for_process() else { return nil }
        executablePath = ProcFile.readLink("/proc/\(pid)/exe")
        dwfl = handle
        let result = dwfl_linux_proc_report(handle, pid)
        dwfl_report_end(handle, nil, nil)
        if result != 0 {
            let reason = result > 0 ? String(cString: strerror(result)) : String(cString: dwfl_errmsg(-1))
            problem = "Cannot list the modules of process \(pid): \(reason)."
        }
        modules = collectModules()
    }

    /// Takes over `dwfl`, a session whose modules are already reported (a core file's), and
    /// ends it in `deinit`.
    package init(reportedSession handle: OpaquePointer, executablePath: String?) {
        dwfl = handle
        self.executablePath = executablePath
        modules = collectModules()
    }

    deinit { dwfl_end(dwfl) }

    /// The address of the symbol `name` in the first module whose path contains `moduleName`
    /// (e.g. "__abort_msg" in "libc.so"), or nil.
    public func address(ofSymbol name: String, inModule moduleName: String) -> UInt64? {
        final class Box {
            let wanted: String
            var module: OpaquePointer?
            init(_ wanted: String) { self.wanted = wanted }
        }
        let box = Box(moduleName)
        _ = withExtendedLifetime(box) {
            dwfl_getmodules(dwfl, { module, _, name, _, arg in
                let box = Unmanaged<Box>.fromOpaque(arg!).takeUnretainedValue()
                guard let name, String(cString: name).contains(box.wanted) else { return Int32(DWARF_CB_OK) }
                box.module = module
                return Int32(DWARF_CB_ABORT)
            }, Unmanaged.passUnretained(box).toOpaque(), 0)
        }
        guard let module = box.module else { return nil }
        let count = dwfl_module_getsymtab(module)
        guard count > 0 else { return nil }
        for index in 0..<count {
            var symbol = GElf_Sym()
            var address: GElf_Addr = 0
            guard let symbolName = dwfl_module_getsym_info(module, index, &symbol, &address, nil, nil, nil) else { continue }
            if strcmp(symbolName, name) == 0 { return address }
        }
        return nil
    }

    /// The build-id of the module loaded from `path`.
    public func buildID(of path: String?) -> String? {
        guard let path else { return nil }
        return modules.first { $0.path == path }?.buildID
    }

    /// The libdwfl module containing `address`, or nil. (libdwfl can answer with a neighbouring
    /// module for an address in no module at all, a jump into the stack or the heap: checked.)
    package func module(at address: UInt64) -> OpaquePointer? {
        guard let module = dwfl_addrmodule(dwfl, Dwarf_Addr(address)) else { return nil }
        var start: Dwarf_Addr = 0, end: Dwarf_Addr = 0
        _ = dwfl_module_info(module, nil, &start, &end, nil, nil, nil, nil)
        return address >= start && address < end ? module : nil
    }

    /// Every libdwfl module, the main executable first (then in address order).
    package func handles() -> [OpaquePointer] {
        final class Box { var modules: [(module: OpaquePointer, start: UInt64, name: String)] = [] }
        let box = Box()
        _ = withExtendedLifetime(box) {
            dwfl_getmodules(dwfl, { module, _, name, start, arg in
                let box = Unmanaged<Box>.fromOpaque(arg!).takeUnretainedValue()
                if let module { box.modules.append((module, start, name.map { String(cString: $0) } ?? "")) }
                return Int32(DWARF_CB_OK)
            }, Unmanaged.passUnretained(box).toOpaque(), 0)
        }
        let executable = executablePath
        return box.modules.sorted { ($0.name == executable ? 0 : 1, $0.start) < ($1.name == executable ? 0 : 1, $1.start) }.map(\.module)
    }

    private func collectModules() -> [LoadedModule] {
        final class Box { var modules: [LoadedModule] = [] }
        let box = Box()
        _ = withExtendedLifetime(box) {
            dwfl_getmodules(dwfl, { module, _, name, start, arg in
                let box = Unmanaged<Box>.fromOpaque(arg!).takeUnretainedValue()
                var end: Dwarf_Addr = 0
                var mainFile: UnsafePointer<CChar>? = nil
                _ = dwfl_module_info(module, nil, nil, &end, nil, nil, &mainFile, nil)
                // The build-id is known only once the module's ELF file is open.
                var bias: Dwarf_Addr = 0
                _ = dwfl_module_getelf(module, &bias)
                var bits: UnsafePointer<UInt8>? = nil
                var vaddr: GElf_Addr = 0
                let length = dwfl_module_build_id(module, &bits, &vaddr)
                var buildID: String? = nil
                if length > 0, let bits {
                    buildID = (0..<Int(length)).map { byte in
                        let hex = String(bits[byte], radix: 16)
                        return hex.count == 1 ? "0" + hex : hex
                    }.joined()
                }
                let path = name.map { String(cString: $0) } ?? mainFile.map { String(cString: $0) } ?? "?"
                box.modules.append(LoadedModule(path: path, start: start, end: end, buildID: buildID))
                return Int32(DWARF_CB_OK)
            }, Unmanaged.passUnretained(box).toOpaque(), 0)
        }
        return box.modules.sorted { $0.start < $1.start }
    }
}
