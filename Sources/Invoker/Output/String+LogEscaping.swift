// String+LogEscaping: untrusted text (argv, environment, thread and file names, symbol names,
// variable values, tracer output) must not be able to forge lines of the text log: a newline
// would let it print a fake "Signal Status:" or "Crashing Thread" line at column 0, and a
// terminal escape would rewrite what an operator's terminal shows. Control characters become
// visible escapes (\n, \r, \e, \x07, \u{2028}); tabs stay, being harmless and common in /proc.

extension String {
    /// One line: every control character (C0 but tab, DEL, C1, the Unicode line and paragraph
    /// separators and the bidirectional overrides) written as an escape; a backslash stays as is.
    var escapedForLog: String {
        guard unicodeScalars.contains(where: Self.needsEscape) else { return self }
        var result = ""
        result.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            guard Self.needsEscape(scalar) else { result.unicodeScalars.append(scalar); continue }
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\u{1B}": result += "\\e"
            default:
                let hex = String(scalar.value, radix: 16)
                result += scalar.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{" + hex + "}"
            }
        }
        return result
    }

    /// Several lines: each escaped, each after `indent` (so none starts at column 0 unless the
    /// indent is empty), ending with a newline.
    func escapedLines(indent: String = "") -> String {
        // Most of what comes here (/proc files, a tracer's output) is printable ASCII, tabs and
        // newlines: then nothing needs an escape, and the lines are cut on their bytes.
        if let plain = plainLines(indent: indent) { return plain }
        var lines = split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { indent + String($0).escapedForLog + "\n" }.joined()
    }

    /// `escapedLines` for text of printable ASCII, tabs and newlines only (nothing to escape, and
    /// every newline a line's end); nil for any other text.
    private func plainLines(indent: String) -> String? {
        var text = self
        return text.withUTF8 { bytes -> String? in
            guard bytes.allSatisfy({ $0 == 0x09 || $0 == 0x0A || (0x20...0x7E).contains($0) }) else { return nil }
            var result: [UInt8] = []
            result.reserveCapacity(bytes.count + 64)
            let prefix = Array(indent.utf8)
            var start = 0
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
                result += prefix
                result += bytes[start..<end]
                result.append(0x0A)
                start = end + 1
            }
            // As the general path: a text ending in a newline has no empty last line, an empty
            // text no line at all.
            return String(decoding: result, as: UTF8.self)
        }
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09: false
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}
