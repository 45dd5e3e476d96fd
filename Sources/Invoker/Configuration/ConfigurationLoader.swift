// ConfigurationLoader: reads invoker.conf with TOMLKit and validates every key, so a bad file is
// reported when the server starts (not when it crashes) with file, line and key.
//
// TOMLKit gives line and column for syntax errors only; for a key whose value is wrong, the line
// is found by looking for the key's assignment inside its table's section of the text.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import TOMLKit
import TracerKit
import Tracers

enum ConfigurationLoader {
    static let globalKeys = ["output_dir", "formats", "deadline", "failure_policy", "max_output_bytes", "retention", "early_release",
                             "log_layout", "group_threads", "stop_timeout", "stack_copy_limit", "keep_core", "keep_core_limit",
                             "debug_info_cache", "debug_info_cache_limit", "tracer", "sentry", "store", "notify"]
    static let externalKeys = ["name", "exec", "timeout", "user", "env", "inherit_env", "cwd"]
    static let builtinKeys = ["use", "name"] + BuiltinRegistry.settingKeys
    static let placeholders: Set<Character> = ["p", "t", "s", "e", "o", "r", "%"]

    /// Where the configuration comes from: --config, then INVOKER_CONFIG, then
    /// /etc/invoker/invoker.conf if it exists; nil means the built-in defaults.
    static func locate(explicit: String?, environment: EnvironmentVariables = .process) -> String? {
        if let explicit { return explicit }
        if let path = environment["INVOKER_CONFIG"], !path.isEmpty { return path }
        return access("/etc/invoker/invoker.conf", F_OK) == 0 ? "/etc/invoker/invoker.conf" : nil
    }

    /// The longest chain a file may configure: every tracer runs inside the server's downtime.
    static let maxTracers = 64

    /// The largest configuration read; a longer file is refused, never cut.
    static let maxFileBytes = 1 << 20

    /// Loads and validates the file at `path`. Running as root, the file and every directory above
    /// it must be root's alone (TrustedFile), and so must each tracer program. `strict` (what
    /// check-config asks) also refuses what a running helper only reports when the tracer's turn
    /// comes: a program that does not exist, a `user` with no passwd entry.
    static func load(path: String, strict: Bool = false) throws(ConfigurationError) -> Configuration {
        let bytes = try readTrusted(path)
        let text = try decode(bytes, file: path)
        let configuration = try parse(text, file: path)
        let locator = SourceLocator(text: text)
        for (index, spec) in configuration.tracers.enumerated() {
            guard case .external(let external) = spec else { continue }
            if TrustedFile.enforced || strict {
                try checkProgram(external.command[0], file: path, line: locator.line(of: "exec", inTracer: index),
                                 key: "tracer[\(index + 1)].exec", strict: strict)
            }
            if strict, let user = external.user, user != "#-1", UserIdentity.lookUp(user) == nil {
                throw ConfigurationError(file: path, line: locator.line(of: "user", inTracer: index), key: "tracer[\(index + 1)].user",
                                         message: "no user \(user) in the password database; a tracer never runs as root in its place")
            }
            for (index, notifier) in configuration.notifiers.enumerated() {
                try checkProgram(notifier.command[0], file: path, line: locator.line(of: "exec", inTableOrArray: "notify"),
                                 key: "notify[\(index + 1)].exec")
            }
        }
        return configuration
    }

    /// The file's bytes, read from the descriptor that was checked; refused when over the limit.
    private static func readTrusted(_ path: String) throws(ConfigurationError) -> [UInt8] {
        let fd: FileDescriptor
        switch TrustedFile.open(path) {
        case .success(let (opened, _)): fd = opened
        case .failure(.unavailable(_, let error)):
            throw ConfigurationError(file: path, message: "cannot read the file: \(error.sentence)")
        case .failure(let refusal):
            throw ConfigurationError(file: path, message: refusal.sentence("a configuration"))
        }
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= maxFileBytes {
            let count = (try? chunk.withUnsafeMutableBytes { try fd.read(into: $0, retryOnInterrupt: true) }) ?? -1
            if count < 0 { throw ConfigurationError(file: path, message: "cannot read the file: \(Errno(rawValue: errno).sentence)") }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
        throw ConfigurationError(file: path, message: "the file is larger than \(maxFileBytes >> 20) MiB; refusing it rather than reading part of it")
    }

    /// UTF-8 text with no NUL byte (TOML's rules), or the line of the first offence.
    static func decode(_ bytes: [UInt8], file: String) throws(ConfigurationError) -> String {
        func line(at offset: Int) -> Int { bytes[..<offset].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) } }
        if let nul = bytes.firstIndex(of: 0) {
            throw ConfigurationError(file: file, line: line(at: nul), message: "a NUL byte at offset \(nul); a configuration is text")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            var iterator = bytes.makeIterator(), decoder = UTF8(), offset = 0
            var bad = 0
            loop: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar): offset += UTF8.width(scalar)
                case .emptyInput: break loop
                case .error: bad = offset; break loop
                }
            }
            throw ConfigurationError(file: file, line: line(at: bad), message: "not valid UTF-8 near offset \(bad); a configuration is UTF-8 text")
        }
        return text
    }

    /// Parses and validates configuration text. `file` names it in messages.
    static func parse(_ text: String, file: String) throws(ConfigurationError) -> Configuration {
        if let (line, message) = TOMLPreflight.problem(in: text) {
            throw ConfigurationError(file: file, line: line, message: "not valid TOML: " + message)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(file: file, line: error.source.begin.line,
                                     message: "not valid TOML at column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigurationError(file: file, message: "not valid TOML: \(error)")
        }
        let locator = SourceLocator(text: text)
        func fail(_ key: String, _ message: String, tracer: Int? = nil) -> ConfigurationError {
            let path = tracer.map { "tracer[\($0 + 1)].\(key)" } ?? key
            return ConfigurationError(file: file, line: locator.line(of: key, inTracer: tracer), key: path, message: message)
        }

        var configuration = Configuration()
        for key in table.keys where !globalKeys.contains(key) {
            throw fail(key, "unknown setting" + suggestion(for: key, among: globalKeys))
        }
        if let value = table["output_dir"] {
            guard let path = value.string, path.hasPrefix("/") else { throw fail("output_dir", "must be an absolute path") }
            configuration.outputDirectory = path
        }
        if let value = table["formats"] {
            guard let array = value.array, !array.isEmpty else { throw fail("formats", "must be a non-empty array such as [\"text\", \"json\"]") }
            var formats: [ReportFormat] = []
            for element in array {
                guard let name = element.string, let format = ReportFormat(rawValue: name) else {
                    throw fail("formats", "\(element.debugDescription) is not a format; use \(ReportFormat.namesForMessage)")
                }
                formats.append(format)
            }
            configuration.formats = formats
        }
        if let value = table["deadline"] {
            guard let deadline = seconds(value) else { throw fail("deadline", secondsRule) }
            configuration.deadline = deadline
        }
        if let value = table["failure_policy"] {
            guard let name = value.string, let policy = FailurePolicy(rawValue: name) else {
                throw fail("failure_policy", "must be \"continue\" or \"stop\"")
            }
            configuration.failurePolicy = policy
        }
        if let value = table["max_output_bytes"] {
            guard let bytes = value.int, (1...maxOutputBytes).contains(bytes) else { throw fail("max_output_bytes", "must be an integer from 1 to \(maxOutputBytes) (256 MiB)") }
            configuration.maxOutputBytes = bytes
        }
        if let value = table["retention"] {
            guard let count = value.int, (0...maxCount).contains(count) else { throw fail("retention", "must be 0 (keep all) or a positive integer up to \(maxCount)") }
            configuration.retention = count
        }
        if let value = table["early_release"] {
            guard let flag = value.bool else { throw fail("early_release", "must be true or false") }
            configuration.earlyRelease = flag
        }
        if let value = table["stop_timeout"] {
            guard let timeout = seconds(value), timeout <= 3600 else {
                throw fail("stop_timeout", "must be a positive number of seconds (at most 3600)")
            }
            configuration.stopTimeout = timeout
        }
        if let value = table["stack_copy_limit"] {
            // The copy lives in the helper's memory while the server is stopped: 1 GiB is already
            // thousands of threads' worth of 8 MiB stacks half used.
            guard let bytes = value.int, bytes >= 0, bytes <= 1 << 30 else {
                throw fail("stack_copy_limit", "must be a number of bytes from 0 (copy no stack up front) to 1073741824 (1 GiB)")
            }
            configuration.stackCopyLimit = bytes
        }
        if let value = table["debug_info_cache"] {
            guard let path = value.string, path.isEmpty || path.hasPrefix("/") else {
                throw fail("debug_info_cache", "must be an absolute path, or \"\" to keep no cache")
            }
            let trimmed = String(path.reversed().drop { $0 == "/" }.reversed())
            configuration.debugInfoCache = path.isEmpty ? nil : trimmed.isEmpty ? "/" : trimmed
            configuration.debugInfoCacheIsDefault = false
        }
        if let value = table["debug_info_cache_limit"] {
            guard let bytes = value.int, bytes >= 0 else {
                throw fail("debug_info_cache_limit", "must be a number of bytes (0 keeps only the files the last run used)")
            }
            configuration.debugInfoCacheLimit = UInt64(bytes)
        }
        if let value = table["keep_core"] {
            guard let flag = value.bool else { throw fail("keep_core", "must be true or false") }
            configuration.keepCore = flag
        }
        if let value = table["keep_core_limit"] {
            guard let bytes = value.int, bytes > 0 else { throw fail("keep_core_limit", "must be a positive number of bytes") }
            configuration.keepCoreLimit = UInt64(bytes)
        }
        if let value = table["log_layout"] {
            guard let name = value.string, name == "auto" || LogLayout(rawValue: name) != nil else {
                throw fail("log_layout", "must be \"auto\", \"ats9\" or \"ats10\"")
            }
            configuration.logLayout = LogLayout(rawValue: name)
        }
        if let value = table["group_threads"] {
            guard let flag = value.bool else { throw fail("group_threads", "must be true or false") }
            configuration.groupThreads = flag
        }
        if let value = table["store"] {
            guard let store = value.table else { throw fail("store", "must be a table: write it as [store]") }
            configuration.store = try storeSettings(store, fail: { key, message in
                ConfigurationError(file: file, line: locator.line(of: key, inTableOrArray: "store"), key: "store.\(key)", message: message)
            })
        }
        if let value = table["notify"] {
            guard let array = value.array else { throw fail("notify", "must be an array of tables: write each as [[notify]]") }
            for (index, element) in array.enumerated() {
                guard let entry = element.table else { throw fail("notify", "entry \(index + 1) is not a table") }
                configuration.notifiers.append(try notifier(entry, index: index, fail: { key, message in
                    ConfigurationError(file: file, line: locator.line(of: key, inTableOrArray: "notify"), key: "notify[\(index + 1)].\(key)",
                                       message: message)
                }))
            }
        }
        if let value = table["tracer"] {
            guard let array = value.array else { throw fail("tracer", "must be an array of tables: write each as [[tracer]]") }
            if array.count > maxTracers {
                throw fail("tracer", "\(array.count) tracers; a chain has at most \(maxTracers) (the server waits for all of them)")
            }
            var tracers: [TracerSpec] = []
            for (index, element) in array.enumerated() {
                guard let entry = element.table else { throw fail("tracer", "entry \(index + 1) is not a table") }
                tracers.append(try tracer(entry, index: index, fail: fail))
            }
            try checkOrder(tracers, fail: fail)
            configuration.tracers = tracers
        }
        configuration.sentry = try sentry(table["sentry"], text: text, file: file)
        return configuration
    }

    /// A built-in placed before (or without) the one whose product it takes (BuiltinEntry.needs)
    /// would find nothing: refused with the sentence that says how to fix it.
    private static func checkOrder(_ tracers: [TracerSpec],
                                   fail: (String, String, Int?) -> ConfigurationError) throws(ConfigurationError) {
        let chain = tracers.map { spec -> String? in
            if case .builtin(let builtin) = spec { return builtin.use }
            return nil
        }
        if let unmet = BuiltinRegistry.unmetNeed(in: chain) {
            throw fail("use", "the \(unmet.name) tracer reads the frames the \(unmet.needs) tracer finds: put a [[tracer]] with use = \"\(unmet.needs)\" before it", unmet.index)
        }
    }

    private static func tracer(_ entry: TOMLTable, index: Int,
                               fail: @escaping (String, String, Int?) -> ConfigurationError) throws(ConfigurationError) -> TracerSpec {
        let hasUse = entry["use"] != nil, hasExec = entry["exec"] != nil
        if hasUse == hasExec {
            throw fail(hasUse ? "use" : "exec", "a tracer needs exactly one of `use = \"unwind\"` (built-in) or `exec = [\"/path\", \"args\"…]` (external program)", index)
        }
        if hasUse {
            // An unknown name is refused here, with the names this build has: never guessed.
            guard let use = entry["use"]?.string, let builtin = BuiltinRegistry.entry(named: use) else {
                throw fail("use", "unknown built-in tracer; this build has: \(BuiltinRegistry.names.joined(separator: ", "))", index)
            }
            let allowed = ["use", "name"] + builtin.settings
            for key in entry.keys where !allowed.contains(key) {
                throw fail(key, "not a setting of the \(use) tracer" + suggestion(for: key, among: allowed), index)
            }
            let stage = try builtin.makeStage(BuiltinSettingsReader(table: entry, index: index, fail: fail))
            return .builtin(BuiltinTracerSpec(use: use, stage: stage))
        }
        for key in entry.keys where !externalKeys.contains(key) {
            throw fail(key, "not a setting of an external tracer" + suggestion(for: key, among: externalKeys), index)
        }
        guard let array = entry["exec"]?.array, !array.isEmpty else {
            throw fail("exec", "must be a non-empty array of strings: the program and its arguments", index)
        }
        var command: [String] = []
        for word in array {
            guard let text = word.string else { throw fail("exec", "every word must be a string", index) }
            if let bad = unknownPlaceholder(in: text) {
                throw fail("exec", "unknown placeholder %\(bad) in \"\(text)\"; use %p %t %s %e %o %r or %%", index)
            }
            command.append(text)
        }
        guard command[0].hasPrefix("/") else {
            throw fail("exec", "the program must be an absolute path (no PATH search, no shell), not \"\(command[0])\"", index)
        }
        var spec = ExternalTracerSpec(name: command[0].split(separator: "/").last.map(String.init) ?? command[0],
                                      command: command, timeout: 30, user: nil, environment: [:], workingDirectory: nil)
        if let value = entry["name"] {
            guard let name = value.string, !name.isEmpty else { throw fail("name", "must be a non-empty string", index) }
            spec.name = name
        }
        if let value = entry["timeout"] {
            guard let timeout = seconds(value) else { throw fail("timeout", secondsRule, index) }
            spec.timeout = timeout
        }
        if let value = entry["user"] {
            guard let user = value.string ?? value.int.map(String.init), !user.isEmpty else {
                throw fail("user", "must be a user name or uid", index)
            }
            spec.user = user
        }
        if let value = entry["env"] {
            guard let env = value.table else { throw fail("env", "must be a table such as { LANG = \"C\" }", index) }
            for key in env.keys {
                guard let text = env[key]?.string else { throw fail("env", "the value of \(key) must be a string", index) }
                spec.environment[key] = text
            }
        }
        if let value = entry["inherit_env"] {
            guard let name = value.string, let inheritance = EnvironmentInheritance(rawValue: name) else {
                throw fail("inherit_env", "must be \"sanitized\" (the default: no secrets), \"all\" or \"none\"", index)
            }
            spec.inheritEnvironment = inheritance
        }
        if let value = entry["cwd"] {
            guard let path = value.string, path.hasPrefix("/") else { throw fail("cwd", "must be an absolute path", index) }
            spec.workingDirectory = path
        }
        return .external(spec)
    }

    /// Every duration (deadline, timeouts) is at most this many seconds (a day): more is a
    /// mistake, and would overflow the monotonic clock's arithmetic.
    static let maxSeconds: Double = 86_400
    static let secondsRule = "must be a positive number of seconds, at most 86400 (one day)"
    /// The cap of max_output_bytes: a tracer's output is held in memory.
    static let maxOutputBytes = 256 << 20
    /// The cap of counts (retention, max_descriptors).
    static let maxCount = 1_000_000

    /// A positive number of seconds, at most `maxSeconds`, from an integer or a float; nil otherwise.
    static func seconds(_ value: any TOMLValueConvertible) -> Double? {
        let number = value.double ?? value.int.map(Double.init)
        guard let number, number > 0, number <= maxSeconds else { return nil }
        return number
    }

    /// The first character after a % that is not a known placeholder.
    static func unknownPlaceholder(in word: String) -> Character? {
        var iterator = word.makeIterator()
        while let character = iterator.next() {
            guard character == "%" else { continue }
            // A lone % at the end of a word is not a placeholder: report it as "% ".
            guard let next = iterator.next() else { return " " }
            if !placeholders.contains(next) { return next }
        }
        return nil
    }

    static func suggestion(for key: String, among known: [String]) -> String {
        let close = known.min { editDistance($0, key) < editDistance($1, key) }
        guard let close, editDistance(close, key) <= 2 else { return "; known: \(known.joined(separator: ", "))" }
        return " (did you mean `\(close)`?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }

    /// Running as root, a tracer program that another user can change (or a directory above it)
    /// would let them run code as root. A program that does not exist yet is refused only when
    /// `strict` (check-config); a running helper reports it when the tracer's turn comes, and
    /// checks again then.
    static func checkProgram(_ program: String, file: String, line: Int?, key: String, strict: Bool = false) throws(ConfigurationError) {
        switch TrustedFile.check(program) {
        case nil: return
        case .unavailable(_, let error)?:
            if strict { throw ConfigurationError(file: file, line: line, key: key, message: "cannot use \(program): \(error.sentence)") }
        case let refusal?:
            throw ConfigurationError(file: file, line: line, key: key, message: refusal.sentence("a tracer"))
        }
    }
}

/// Finds the line of `key = …` in the top level or in the N-th [[tracer]] section of a TOML text,
/// for messages only (the values themselves come from TOMLKit). The text is indexed once, so a
/// lookup costs no more than a dictionary access, however many tracers there are.
struct SourceLocator {
    /// The text's lines (for lookups in other tables, such as [sentry]).
    let lines: [Substring]
    /// Per section (nil: top level; n: the n-th [[tracer]]), the first line of each key.
    private var keyLines: [Int?: [String: Int]] = [:]
    /// The line of each [[tracer]] header.
    private var sectionLines: [Int: Int] = [:]

    init(text: String) {
        var section: Int? = nil
        var inOtherTable = false
        var tracerCount = -1
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (number, raw) in lines.enumerated() {
            let line = raw.trimmingWhitespace()
            if line.hasPrefix("[[") && line.hasSuffix("]]") {
                inOtherTable = line.dropFirst(2).dropLast(2).trimmingWhitespace() != "tracer"
                if !inOtherTable {
                    tracerCount += 1
                    section = tracerCount
                    sectionLines[tracerCount] = number + 1
                }
                continue
            }
            if line.hasPrefix("[") { inOtherTable = true; continue }
            guard !inOtherTable, let assignment = line.split(separator: "=", maxSplits: 1).first?.trimmingWhitespace() else { continue }
            let key = assignment.hasPrefix("\"") && assignment.hasSuffix("\"") && assignment.count >= 2
                ? String(assignment.dropFirst().dropLast()) : assignment
            if keyLines[section, default: [:]][key] == nil { keyLines[section, default: [:]][key] = number + 1 }
        }
    }

    func line(of key: String, inTracer tracer: Int?) -> Int? {
        keyLines[tracer]?[key] ?? (tracer == nil ? 1 : sectionLines[tracer!])
    }
}
