// Redactor: the one place that decides what is a secret, for every report section, every writer
// (text, JSON, Sentry) and the environment given to external tracers. A secret is recognised by
// its name (PASSWORD, TOKEN, MYSQL_PWD, --password…) and by the shape of its value, wherever it
// appears: credentials in URLs (scheme://user:SECRET@host), `Authorization: Bearer SECRET`, JSON
// Web Tokens, webhook URLs (Slack, Discord, Office 365), and provider key formats (AWS AKIA/ASIA,
// GitHub ghp_/gho_/ghu_/ghs_/ghr_/github_pat_, Slack xox?-, Stripe sk_live_/rk_live_, GitLab
// glpat-, Google AIza, npm_). Scanning is linear in the text (no backtracking regular expressions),
// so a tracer's megabyte of output costs milliseconds.

/// Replaces secrets with `<redacted>`.
public struct Redactor: Sendable {
    /// What a secret is replaced with.
    public static let marker = "<redacted>"
    /// Parts of names (case-insensitive) whose values are secrets.
    public static let defaultNamePatterns = ["PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "KEY", "CREDENTIAL",
                                             "AUTH", "COOKIE", "SESSION", "PRIVATE", "WEBHOOK", "SIGNATURE", "DSN"]
    /// Programs that take a password glued to -p (`mysql -pSECRET`).
    public static let gluedPasswordPrograms: Set<String> = [
        "mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mysqlshow", "mariadb", "mariadb-dump",
        "mariadb-admin", "sshpass",
    ]

    /// Upper-cased name parts; the defaults plus any given.
    public let namePatterns: [String]

    public init(extraNamePatterns: [String] = []) {
        namePatterns = (Self.defaultNamePatterns + extraNamePatterns).map { $0.uppercased() }.filter { !$0.isEmpty }
    }

    /// Whether a variable, option or field name (`MYSQL_PWD`, `--password`, `api_key`) names a secret.
    public func isSecretName<S: StringProtocol>(_ name: S) -> Bool {
        let upper = name.drop { $0 == "-" }.uppercased()
        guard !upper.isEmpty, upper != "PWD", upper != "OLDPWD" else { return false }
        // Compared as UTF-8 bytes: String.contains(String) matches Characters and costs a
        // generic search per pattern (the process collector asks this for every variable of
        // the environment, while the server is stopped).
        if namePatterns.contains(where: { Self.bytes(of: upper, contain: $0) }) { return true }
        return upper.hasSuffix("PWD") || upper == "PASS" || upper.hasSuffix("_PASS") || upper.hasPrefix("PASS_") || upper == "SIG"
    }

    /// Whether `pattern`'s UTF-8 bytes occur in `text`'s.
    private static func bytes(of text: String, contain pattern: String) -> Bool {
        let haystack = text.utf8, needle = pattern.utf8
        guard let first = needle.first else { return true }
        guard haystack.count >= needle.count else { return false }
        var start = haystack.startIndex
        let last = haystack.index(haystack.endIndex, offsetBy: -needle.count)
        while start <= last {
            if haystack[start] == first && haystack[start...].starts(with: needle) { return true }
            start = haystack.index(after: start)
        }
        return false
    }

    /// `NAME=value` from an environment: the value redacted when the name or the value says secret.
    public func redactEnvironmentEntry(_ entry: String) -> String {
        guard let equals = entry.firstIndex(of: "=") else { return redactText(entry) }
        let name = entry[..<equals], value = entry[entry.index(after: equals)...]
        if isSecretName(name) { return value.isEmpty ? entry : name + "=" + Self.marker }
        return name + "=" + redactText(String(value))
    }

    /// The environment for a program we start: without the variables `redactEnvironmentEntry`
    /// would change.
    public func sanitizedEnvironment(_ environment: [String: String]) -> [String: String] {
        environment.filter { redactEnvironmentEntry($0.key + "=" + $0.value) == $0.key + "=" + $0.value }
    }

    /// A command line: `--password=X`, `--password X`, `-pX` (for the programs known to take it),
    /// `-a X` (redis-cli), and every secret-shaped word.
    public func redactArguments(_ arguments: [String]) -> [String] {
        let program = arguments.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? ""
        var result: [String] = []
        var nextIsSecret = false
        for (index, argument) in arguments.enumerated() {
            if nextIsSecret {
                result.append(Self.marker)
                nextIsSecret = false
                continue
            }
            if index > 0 && argument.hasPrefix("--") && !argument.contains("=") && isSecretName(argument) {
                nextIsSecret = true
            } else if index > 0 && Self.gluedPasswordPrograms.contains(program) && argument.hasPrefix("-p") && argument.count > 2 && !argument.hasPrefix("--") {
                result.append("-p" + Self.marker)
                continue
            } else if index > 0 && ((program == "redis-cli" && argument == "-a") || (program == "sshpass" && argument == "-p")) {
                nextIsSecret = true
            }
            result.append(redactText(argument))
        }
        return result
    }

    /// Free text (a tracer's output, a value, a sentence) with every secret-shaped word redacted.
    public func redactText(_ text: String) -> String {
        let bytes = text.utf8
        var output = ""
        var copiedUpTo = bytes.startIndex
        var previous: Substring = ""
        var index = bytes.startIndex
        let marker = Self.marker.utf8
        while index < bytes.endIndex {
            let byte = bytes[index]
            if Self.isDelimiter(byte) {
                // Our own marker is a word of its own: never redacted again.
                if byte == UInt8(ascii: "<"), bytes[index...].starts(with: marker) {
                    index = bytes.index(index, offsetBy: marker.count)
                    previous = ""
                    continue
                }
                if byte == UInt8(ascii: "\n") { previous = "" }
                index = bytes.index(after: index)
                continue
            }
            var end = index
            var interesting = false, length = 0
            while end < bytes.endIndex, !Self.isDelimiter(bytes[end]) {
                let b = bytes[end]
                if b == UInt8(ascii: "=") || b == UInt8(ascii: ":") || b == UInt8(ascii: "@") || b == UInt8(ascii: "&") { interesting = true }
                length += 1
                end = bytes.index(after: end)
            }
            let token = text[index..<end]
            var replacement: String? = nil
            if length >= 4 && length <= 6 && Self.isAuthScheme(token) {
                replacement = nil
            } else if !previous.isEmpty && (Self.isAuthScheme(previous) || (previous.hasSuffix(":") && isSecretName(previous.dropLast()))) {
                replacement = Self.marker
            } else if interesting || length >= 14 {
                let redacted = redactToken(token, freeText: true)
                if redacted != token { replacement = redacted }
            }
            if let replacement {
                output += text[copiedUpTo..<index]
                output += replacement
                copiedUpTo = end
            }
            previous = token
            index = end
        }
        if copiedUpTo == bytes.startIndex { return text }
        output += text[copiedUpTo...]
        return output
    }

    // MARK: - One word

    /// `freeText`: a number after a secret-looking name (`token_count=3` in a debugger's output)
    /// is left alone there; in an environment or on a command line, the name alone decides.
    private func redactToken(_ token: Substring, freeText: Bool = false) -> String {
        if Self.hasSchemeSeparator(token) { return redactURL(token) }
        if let equals = token.utf8.firstIndex(of: UInt8(ascii: "=")), equals > token.startIndex {
            // NAME=value (environment, --option=value, key=value): by name, else by the value's shape.
            let name = token[..<equals], value = token[token.index(after: equals)...]
            if isSecretName(name) && !(freeText && Self.isNumber(value)) {
                return value.isEmpty ? String(token) : name + "=" + Self.marker
            }
            return name + "=" + redactToken(value, freeText: freeText)
        }
        if token.utf8.contains(UInt8(ascii: "&")) {
            return token.split(separator: "&", omittingEmptySubsequences: false).map { redactToken($0, freeText: freeText) }.joined(separator: "&")
        }
        return redactShapes(token)
    }

    /// Whether "://" occurs in the word.
    private static func hasSchemeSeparator(_ token: Substring) -> Bool {
        var colonSlash = 0
        for byte in token.utf8 {
            switch (colonSlash, byte) {
            case (_, UInt8(ascii: ":")): colonSlash = 1
            case (1, UInt8(ascii: "/")): colonSlash = 2
            case (2, UInt8(ascii: "/")): return true
            default: colonSlash = 0
            }
        }
        return false
    }

    /// A decimal or 0x-hexadecimal number.
    private static func isNumber(_ text: Substring) -> Bool {
        let digits = text.hasPrefix("0x") ? text.dropFirst(2) : text.drop { $0 == "-" }
        return !digits.isEmpty && digits.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || (text.hasPrefix("0x") && (($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x66)) }
    }

    /// scheme://user:SECRET@host/path?query: the password (or a lone token) in the user part, a
    /// webhook's path, and secret query parameters.
    private func redactURL(_ token: Substring) -> String {
        guard let schemeEnd = token.firstRange(of: "://") else { return String(token) }
        let head = token[..<schemeEnd.upperBound]
        let rest = token[schemeEnd.upperBound...]
        let authorityEnd: Substring.Index = rest.firstIndex(where: Self.endsAuthority) ?? rest.endIndex
        var authority = String(rest[..<authorityEnd])
        if let at = authority.lastIndex(of: "@") {
            let user = authority[..<at], host = authority[authority.index(after: at)...]
            if let colon = user.firstIndex(of: ":") {
                authority = String(user[..<colon]) + ":" + Self.marker + "@" + String(host)
            } else {
                authority = Self.marker + "@" + String(host)
            }
        }
        var path = String(rest[authorityEnd...])
        let host = authority.split(separator: "@").last.map { $0.lowercased() } ?? ""
        let discord = (host.hasSuffix("discord.com") || host.hasSuffix("discordapp.com")) && path.hasPrefix("/api/webhooks")
        let office = host.hasSuffix("webhook.office.com") || (host == "outlook.office.com" && path.hasPrefix("/webhook"))
        let isWebhook = host == "hooks.slack.com" || discord || office
        if isWebhook {
            path = "/" + Self.marker
        } else if let question = path.firstIndex(of: "?") {
            let query = path[path.index(after: question)...]
            let parameters: [String] = query.split(separator: "&", omittingEmptySubsequences: false).map { redactToken($0) }
            path = String(path[...question]) + parameters.joined(separator: "&")
        }
        let result: String = String(head) + authority + path
        return redactShapes(Substring(result))
    }

    /// Key formats and JSON Web Tokens anywhere in a word.
    private func redactShapes(_ word: Substring) -> String {
        let bytes = Array(word.utf8)
        var output: [UInt8] = []
        var changed = false
        var i = 0
        while i < bytes.count {
            let atBoundary = i == 0 || !Self.isKeyByte(bytes[i - 1])
            if atBoundary, let length = secretLength(bytes, at: i) {
                output += Array(Self.marker.utf8)
                i += length
                changed = true
                continue
            }
            output.append(bytes[i])
            i += 1
        }
        return changed ? String(decoding: output, as: UTF8.self) : String(word)
    }

    /// (prefix, characters that may follow, at least this many of them)
    private static let keyFormats: [(prefix: [UInt8], upperAlnumOnly: Bool, minimum: Int)] = [
        ("AKIA", true, 16), ("ASIA", true, 16), ("ghp_", false, 20), ("gho_", false, 20), ("ghu_", false, 20),
        ("ghs_", false, 20), ("ghr_", false, 20), ("github_pat_", false, 20), ("xoxb-", false, 10), ("xoxp-", false, 10),
        ("xoxa-", false, 10), ("xoxr-", false, 10), ("xoxs-", false, 10), ("xoxe-", false, 10), ("sk_live_", false, 10),
        ("rk_live_", false, 10), ("sk_test_", false, 10), ("glpat-", false, 20), ("AIza", false, 30), ("npm_", false, 30),
    ].map { (Array($0.0.utf8), $0.1, $0.2) }

    /// The length of the secret that starts at `start`, if one does.
    private func secretLength(_ bytes: [UInt8], at start: Int) -> Int? {
        for format in Self.keyFormats where bytes.count - start >= format.prefix.count + format.minimum {
            guard bytes[start..<(start + format.prefix.count)].elementsEqual(format.prefix) else { continue }
            var end = start + format.prefix.count
            while end < bytes.count && (format.upperAlnumOnly ? Self.isUpperAlnum(bytes[end]) : Self.isKeyByte(bytes[end])) { end += 1 }
            if end - start - format.prefix.count >= format.minimum { return end - start }
        }
        // A JSON Web Token: eyJ… . … . … (base64url header, payload, signature).
        if bytes.count - start > 20, bytes[start] == UInt8(ascii: "e"), bytes[start + 1] == UInt8(ascii: "y"),
           bytes[start + 2] == UInt8(ascii: "J") {
            var end = start, dots = 0, segment = 0
            while end < bytes.count {
                if bytes[end] == UInt8(ascii: ".") {
                    if segment < 4 { break }
                    dots += 1; segment = 0
                } else if Self.isKeyByte(bytes[end]) {
                    segment += 1
                } else { break }
                end += 1
            }
            if dots >= 2 { return end - start }
        }
        return nil
    }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x2D
    }

    private static func isUpperAlnum(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) }

    private static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20, 0x09, 0x0A, 0x0D, 0x22, 0x27, 0x60, 0x2C, 0x3B, 0x28, 0x29, 0x3C, 0x3E, 0x5B, 0x5D, 0x7B, 0x7D, 0x7C: true
        default: false
        }
    }

    private static func endsAuthority(_ character: Character) -> Bool {
        character == "/" || character == "?" || character == "#"
    }

    private static func isAuthScheme(_ word: Substring) -> Bool {
        ["BEARER", "BASIC", "TOKEN", "DIGEST"].contains(word.uppercased())
    }
}
