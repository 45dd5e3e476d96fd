// ValueFormatter+Text: numbers, characters and strings as gdb prints them: 65 'A', 200 '\310',
// 0.10000000000000001 (%.17g for double, %.9g for float), "outer\000\000", runs of more than ten
// equal characters as 'x' <repeats 200 times>, and "..." when a string goes on past the limit.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

extension ValueFormatter {
    func base(_ bytes: [UInt8], encoding: Int) -> String {
        switch encoding {
        case DW_ATE_boolean:
            let value = integer(bytes, signed: false)
            return value == 0 ? "false" : value == 1 ? "true" : String(value)
        case DW_ATE_float:
            return floatingPoint(bytes)
        case DW_ATE_signed_char, DW_ATE_unsigned_char where bytes.count == 1:
            let value = integer(bytes, signed: encoding == DW_ATE_signed_char)
            return String(Int64(bitPattern: value)) + " '" + escape(bytes[0], quote: "'") + "'"
        case DW_ATE_signed, DW_ATE_signed_char:
            guard bytes.count <= 8 else { return hex(ValueBytes(bytes)) }
            return String(Int64(bitPattern: integer(bytes, signed: true)))
        default:
            guard bytes.count <= 8 else { return hex(ValueBytes(bytes)) }
            return String(integer(bytes, signed: false))
        }
    }

    private func floatingPoint(_ bytes: [UInt8]) -> String {
        switch bytes.count {
        case 4: return printf("%.9g", Double(Float(bitPattern: UInt32(truncatingIfNeeded: integer(bytes, signed: false)))))
        case 8: return printf("%.17g", Double(bitPattern: integer(bytes, signed: false)))
        case 10, 16:
            #if arch(x86_64)
            var value = Float80()
            withUnsafeMutableBytes(of: &value) { raw in for index in 0..<10 { raw[index] = bytes[index] } }
            return printf("%.21Lg", value)
            #else
            return hex(ValueBytes(bytes))
            #endif
        default: return hex(ValueBytes(bytes))
        }
    }

    private func printf(_ format: String, _ value: any CVarArg) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        let text = String(cString: buffer)
        // gdb prints infinities and NaNs as inf, -inf, nan(0x8000000000000): close enough as C does.
        return text
    }

    /// Little-endian integer of up to 8 bytes, sign-extended when asked.
    func integer(_ bytes: [UInt8], signed: Bool) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        let bits = min(bytes.count, 8) * 8
        if signed, bits > 0, bits < 64, value & (1 << UInt64(bits - 1)) != 0 { value |= ~((1 << UInt64(bits)) - 1) }
        return value
    }

    func hex(_ value: ValueBytes) -> String {
        guard value.isComplete else { return "<optimized out>" }
        return "0x" + value.bytes.reversed().map { byte in let text = String(byte, radix: 16); return text.count == 1 ? "0" + text : text }.joined()
    }

    /// The C string at `address` as gdb prints it after a char pointer: quoted, at most
    /// `maxElements` characters then "...", or an error when it cannot be read.
    func cString(at address: UInt64) -> String {
        guard let (bytes, terminated) = memory.readCStringBytes(at: address, limit: options.maxElements) else {
            return cannotAccess(address)
        }
        // Cut at the limit: gdb adds "..." only if the string really goes on.
        var ellipsis = !terminated
        if !terminated, bytes.count == options.maxElements, let next = try? memory.read(UInt8.self, at: address + UInt64(bytes.count)),
           next == 0 {
            ellipsis = false
        }
        return renderCharacters(bytes, ellipsis: ellipsis)
    }

    /// Characters as gdb's string printer shows them: quoted runs, with runs of more than
    /// `repeatThreshold` equal characters as 'c' <repeats N times>, joined by ", ".
    func renderCharacters(_ characters: [UInt8], ellipsis: Bool) -> String {
        var segments: [String] = []
        var quoted = ""
        var inQuotes = false
        var index = 0
        while index < characters.count {
            var run = 1
            while index + run < characters.count, characters[index + run] == characters[index] { run += 1 }
            if run > options.repeatThreshold {
                if inQuotes { segments.append("\"" + quoted + "\""); quoted = ""; inQuotes = false }
                segments.append("'" + escape(characters[index], quote: "'") + "' <repeats \(run) times>")
            } else {
                inQuotes = true
                for _ in 0..<run { quoted += escape(characters[index], quote: "\"") }
            }
            index += run
        }
        if inQuotes || segments.isEmpty { segments.append("\"" + quoted + "\"") }
        return segments.joined(separator: ", ") + (ellipsis ? "..." : "")
    }

    /// One character as C source would write it inside `quote`s (gdb's escapes: \n, \t, \033,
    /// octal for the rest of the unprintable bytes).
    func escape(_ byte: UInt8, quote: Character) -> String {
        switch byte {
        case 7: return "\\a"
        case 8: return "\\b"
        case 9: return "\\t"
        case 10: return "\\n"
        case 11: return "\\v"
        case 12: return "\\f"
        case 13: return "\\r"
        case 27: return "\\033"
        case UInt8(ascii: "\\"): return "\\\\"
        case 32..<127:
            let character = Character(Unicode.Scalar(byte))
            return character == quote ? "\\" + String(character) : String(character)
        default:
            let octal = String(byte, radix: 8)
            return "\\" + String(repeating: "0", count: 3 - octal.count) + octal
        }
    }
}
