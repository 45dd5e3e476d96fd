// Demangler: turns linker names back into source names: C++ through the C++ runtime's
// __cxa_demangle, Rust (legacy and v0) through libiberty, Swift through the Swift runtime's
// swift_demangle (linked into invoker). Names none recognises are returned unchanged.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import CDemangleShim

/// Demangles symbol names.
public enum Demangler {
    /// The source-level name of `symbol`, or `symbol` itself when it is not mangled.
    public static func demangle(_ symbol: String) -> String {
        if symbol.hasPrefix("_R") || (symbol.hasPrefix("_ZN") && isRustLegacy(symbol)) {
            return take(ivk_demangle_rust(symbol)) ?? symbol
        }
        if symbol.hasPrefix("_Z") { return take(ivk_demangle_cxx(symbol)) ?? symbol }
        if ["$s", "$S", "$e", "_$s", "_T0"].contains(where: symbol.hasPrefix) {
            return symbol.withCString { take(swift_demangle($0, strlen($0), nil, nil, 0)) } ?? symbol
        }
        return symbol
    }

    /// Rust's legacy mangling is Itanium-shaped, ending in a 17h<16 hex digits>E hash path part.
    static func isRustLegacy(_ symbol: String) -> Bool {
        // ...17h0123456789abcdefE: "17h" + 16 hex digits + "E" are the last 20 characters.
        let tail = symbol.utf8.suffix(20)
        guard tail.count == 20, tail.starts(with: "17h".utf8), tail.last == UInt8(ascii: "E") else { return false }
        return tail.dropFirst(3).dropLast().allSatisfy { Character(Unicode.Scalar($0)).isHexDigit }
    }

    private static func take(_ result: UnsafeMutablePointer<CChar>?) -> String? {
        guard let result else { return nil }
        defer { free(result) }
        return String(cString: result)
    }
}

/// The Swift runtime's demangler (exported by libswiftCore).
@_silgen_name("swift_demangle")
func swift_demangle(_ mangled: UnsafePointer<CChar>?, _ length: Int, _ output: UnsafeMutablePointer<CChar>?,
                    _ outputSize: UnsafeMutablePointer<Int>?, _ flags: UInt32) -> UnsafeMutablePointer<CChar>?

