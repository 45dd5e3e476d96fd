// Demangler: turns linker names back into source names. C++ through the C++ runtime's
// __cxa_demangle; names it does not recognise are returned unchanged.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim

/// Demangles symbol names.
public enum Demangler {
    /// The source-level name of `symbol`, or `symbol` itself when it is not mangled.
    public static func demangle(_ symbol: String) -> String {
        guard symbol.hasPrefix("_Z") else { return symbol }
        guard let result = ivk_demangle_cxx(symbol) else { return symbol }
        defer { free(result) }
        return String(cString: result)
    }
}
