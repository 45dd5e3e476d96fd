// TableHeaderGuard: works around an assertion in toml++ (the C++ parser inside TOMLKit). Its
// parse_table_header hands the character after `[` or `[[` to parse_key, which asserts
// (TOML_ASSERT_ASSUME) that it starts a key: `[[)racer]]` aborts a debug build, and in a
// release build the failed assumption is undefined behaviour. Found by the configuration fuzz
// campaign (ConfigurationFuzzTests). This is not a TOML parser: it only finds a line where a
// table header starts with something that cannot start a key, and says so with the line, before
// TOMLKit sees the text. A quick scan finds candidates; only then is the text walked (strings,
// comments and multi-line arrays tracked) to tell a header from an array value on its own line.

enum TableHeaderGuard {
    /// The 1-based line and character of the first table header that cannot start with a key
    /// ("\n" when the line ends there).
    static func badHeader(in text: String) -> (line: Int, character: Character)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.contains(where: { offendingCharacter($0) != nil }) else { return nil }
        var depth = 0, inMultiline: Substring? = nil
        for (number, line) in lines.enumerated() {
            if inMultiline == nil && depth == 0, let bad = offendingCharacter(line) { return (number + 1, bad) }
            scan(line, depth: &depth, multiline: &inMultiline)
        }
        return nil
    }

    /// After `[`, `[[` and blanks, the character that cannot start a key (nil if the line is not
    /// such a header).
    private static func offendingCharacter(_ line: Substring) -> Character? {
        var rest = line.drop { $0 == " " || $0 == "\t" }
        guard rest.first == "[" else { return nil }
        rest = rest.dropFirst()
        if rest.first == "[" { rest = rest.dropFirst() }
        rest = rest.drop { $0 == " " || $0 == "\t" }
        // The end of the line is offending too: the parser's next character is then the newline.
        guard let first = rest.first else { return "\n" }
        let startsKey = first.isASCII && (first.isLetter || first.isNumber || first == "_" || first == "-")
        return startsKey || first == "\"" || first == "'" || first == "]" ? nil : first
    }

    /// Follows one line: bracket depth of values, strings, comments.
    private static func scan(_ line: Substring, depth: inout Int, multiline: inout Substring?) {
        var index = line.startIndex
        var afterEquals = depth > 0
        while index < line.endIndex {
            if let delimiter = multiline {
                guard let end = line[index...].firstRange(of: delimiter) else { return }
                index = end.upperBound
                multiline = nil
                continue
            }
            let character = line[index]
            switch character {
            case "#": return
            case "\"", "'":
                let triple = String(repeating: character, count: 3)
                if line[index...].hasPrefix(triple) {
                    multiline = Substring(triple)
                    index = line.index(index, offsetBy: 3)
                    continue
                }
                index = line.index(after: index)
                while index < line.endIndex && line[index] != character {
                    if character == "\"" && line[index] == "\\" { index = line.index(after: index) }
                    if index < line.endIndex { index = line.index(after: index) }
                }
            case "=": afterEquals = true
            case "[", "{": if afterEquals { depth += 1 }
            case "]", "}": if afterEquals && depth > 0 { depth -= 1 }
            default: break
            }
            if index < line.endIndex { index = line.index(after: index) }
        }
    }
}
