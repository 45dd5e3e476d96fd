// TOMLPreflight: works around assertions in toml++ (the C++ parser inside TOMLKit), found by the
// configuration fuzz campaign (ConfigurationFuzzTests). toml++ asserts (TOML_ASSERT_ASSUME)
// instead of reporting an error in a few places: a table header whose key starts with a
// character that cannot start a key (`[[)racer]]`, or `[[` at the end of a line), and an array
// element that starts with `}` or a non-ASCII blank (`["a", }`), a date whose T is not followed
// by a digit (`1979-05-27T(7`); each also after a byte order mark. SwiftPM defines no NDEBUG,
// so any build aborts there (and with NDEBUG the failed assumption would be undefined
// behaviour): a typo must never cost the server its crash helper. This is not a TOML parser: it
// follows strings, comments and bracket nesting only far enough to find those spots (and raw
// control characters, which TOML forbids everywhere), and says where, before TOMLKit sees the
// text.

enum TOMLPreflight {
    /// The 1-based line of the first spot toml++ would assert on, and what is wrong there.
    static func problem(in text: String) -> (line: Int, message: String)? {
        var line = 1
        var scalars = Array(text.unicodeScalars)[...]
        // toml++ skips a byte order mark at the start, so the first line's header starts after it.
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        var stack: [Unicode.Scalar] = []      // "[" (array value) or "{" (inline table)
        var expectingValue = false            // after "=", or after "[" / "," inside an array
        var atLineStart = true
        func describe(_ scalar: Unicode.Scalar?) -> String {
            guard let scalar else { return "the end of the file" }
            if scalar == "\n" { return "the end of the line" }
            return scalar.value < 0x20 || scalar.value == 0x7F || !scalar.isASCII
                ? "U+" + String(scalar.value, radix: 16, uppercase: true) : "\"\(Character(scalar))\""
        }
        while let scalar = scalars.first {
            if isControl(scalar) { return (line, "a control character (\(describe(scalar))) outside a string's escapes") }
            if scalar == "\n" { line += 1; atLineStart = true; scalars.removeFirst(); if stack.isEmpty { expectingValue = false }; continue }
            if scalar == " " || scalar == "\t" || scalar == "\r" { scalars.removeFirst(); continue }
            if scalar == "#" {
                while let next = scalars.first, next != "\n" {
                    if isControl(next) { return (line, "a control character (\(describe(next))) in a comment") }
                    scalars.removeFirst()
                }
                continue
            }
            if atLineStart && stack.isEmpty && !expectingValue && scalar == "[" {
                // A table header: the key must start right after [ or [[ and blanks.
                scalars.removeFirst()
                if scalars.first == "[" { scalars.removeFirst() }
                while let next = scalars.first, next == " " || next == "\t" { scalars.removeFirst() }
                let next = scalars.first
                if let next, isKeyStart(next) || next == "]" || next == "\"" || next == "'" {
                    atLineStart = false
                    continue
                }
                return (line, "a table header must start with a key name, not \(describe(next))")
            }
            atLineStart = false
            if expectingValue {
                if scalar == "}" || (!scalar.isASCII && scalar.properties.isWhitespace) {
                    return (line, "a value cannot start with \(describe(scalar))")
                }
                expectingValue = false
                // A date followed by T must be followed by a time: toml++ asserts on its first digit.
                let head = Array(scalars.prefix(12))
                if head.count == 12, head[4] == "-", head[7] == "-", head[10] == "T" || head[10] == "t",
                   [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy({ isDigit(head[$0]) }), !isDigit(head[11]) {
                    return (line, "a date and time needs a time after \"\(Character(head[10]))\", not \(describe(head[11]))")
                }
            }
            switch scalar {
            case "\"", "'":
                if !skipString(&scalars, line: &line) { return (line, "a control character in a string") }
                continue
            case "=": expectingValue = true
            case "[": stack.append("["); expectingValue = true
            case "{": stack.append("{")
            case "]", "}": if !stack.isEmpty { stack.removeLast() }
            case ",": if stack.last == "[" { expectingValue = true }
            default: break
            }
            scalars.removeFirst()
        }
        return nil
    }

    /// Skips a basic, literal or multi-line string starting at `scalars.first`; false if it holds
    /// a raw control character TOML forbids there.
    private static func skipString(_ scalars: inout ArraySlice<Unicode.Scalar>, line: inout Int) -> Bool {
        let quote = scalars.first!
        let multiline = scalars.prefix(3).allSatisfy { $0 == quote } && scalars.count >= 3
        scalars.removeFirst(multiline ? 3 : 1)
        while let scalar = scalars.first {
            if multiline && scalars.prefix(3).count == 3 && scalars.prefix(3).allSatisfy({ $0 == quote }) {
                scalars.removeFirst(3)
                while scalars.first == quote { scalars.removeFirst() }
                return true
            }
            if !multiline && scalar == quote { scalars.removeFirst(); return true }
            if scalar == "\n" {
                if !multiline { return true }  // an unterminated string: TOMLKit reports it
                line += 1
            } else if isControl(scalar) {
                return false
            }
            if quote == "\"" && scalar == "\\" { scalars.removeFirst() }
            if !scalars.isEmpty { scalars.removeFirst() }
        }
        return true
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

    private static func isKeyStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-")
    }

    /// Control characters TOML forbids outside escapes (tab, newline and carriage return aside).
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r") || scalar.value == 0x7F
    }
}
