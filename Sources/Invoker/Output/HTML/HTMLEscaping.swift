// HTMLEscaping: every string that comes from a report reaches the HTML view through here. Thread
// names, argv, the environment, tracer output and variable values are the crashed server's (or
// its user's) to choose; escaped, they can only ever be text, never markup or script.

enum HTMLEscaping {
    /// `text` as HTML character data or a quoted attribute value: & < > " ' as entities, control
    /// characters (but tab, newline and carriage return) as their visible Unicode pictures
    /// (U+2400…), NUL included, so terminal escapes in a tracer's output show what they are; C1
    /// controls and bidirectional overrides as "<U+202E>", so they cannot disguise what follows.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            case "\u{0}"..."\u{1F}": out.unicodeScalars.append(Unicode.Scalar(0x2400 + scalar.value)!)
            case "\u{7F}": out += "\u{2421}"
            case "\u{80}"..."\u{9F}", "\u{202A}"..."\u{202E}", "\u{2066}"..."\u{2069}":
                out += "&lt;U+" + String(scalar.value, radix: 16, uppercase: true) + "&gt;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
