// Fingerprint: what makes two crashes "the same crash", as a short stable string (rule fp1).
//
// fp1 hashes the signal number, the fault kind and up to five tokens of the crashing thread,
// innermost first. A token is `module-basename!function`: the module's file name without the
// version after ".so" (libc.so.6 → libc.so), the function without compiler clone suffixes
// (.isra.0, .constprop.1, .part.2, .cold). Before taking tokens, the frames up to and including a
// signal trampoline, the crash machinery (raise, abort, __assert_fail, __stack_chk_fail, the
// server's own crash handler…) and the thread bottoms (start_thread, clone, _start,
// __libc_start_main) are dropped, and consecutive equal tokens (recursion) collapse into one. No
// address, offset, line or build-id goes into the hash, so ASLR, rebuilds and library upgrades
// keep it; a different faulting function changes it. A frame without a function name falls back
// to `module-basename@BUILDID+0xOFFSET`: stable only for that build, and the fingerprint says so.
// The hash is 64-bit FNV-1a of the tokens joined by newlines, printed as 16 hex digits after "fp1:".

/// A crash's fingerprint under rule fp1, and what it was computed from.
public struct Fingerprint: Sendable, Equatable {
    /// The rule's version; a new rule gets a new prefix, so old and new groups never mix.
    public static let rule = "fp1"
    /// How many stack tokens go into the hash.
    public static let depth = 5

    /// "fp1:" and 16 lowercase hex digits.
    public var value: String
    /// What was hashed: "signal=11", "kind=null-dereference", then the stack tokens.
    public var basis: [String]
    /// Set when some token had no function name and used a module offset and build-id instead.
    public var note: String?

    /// The first 12 characters after the prefix, for tables.
    public var short: String { String(value.dropFirst(Self.rule.count + 1).prefix(12)) }

    /// Functions that belong to the act of crashing rather than to the bug: libc's raise and
    /// abort paths, assertion and fortify failures, and Traffic Server's own fatal paths.
    public static let crashMachinery: Set<String> = [
        "raise", "gsignal", "__GI_raise", "abort", "__GI_abort", "__pthread_kill_implementation",
        "__pthread_kill_internal", "pthread_kill", "__pthread_kill", "__GI___pthread_kill", "__assert_fail",
        "__assert_fail_base", "__GI___assert_fail", "__assert_perror_fail", "__libc_message", "__libc_fatal",
        "__fortify_fail", "__chk_fail", "__stack_chk_fail", "malloc_printerr", "__restore_rt",
        "ink_abort", "ink_fatal", "ink_fatal_va", "ink_emergency", "ink_emergency_va", "_ink_assert",
        "ink_release_assert", "signal_crash_handler", "crash_logger_invoke", "signal_handler",
    ]
    /// Functions at the bottom of every thread: they say nothing about the crash.
    public static let threadBottoms: Set<String> = [
        "start_thread", "clone", "clone3", "__clone", "__clone3", "_start", "__libc_start_main",
        "__libc_start_main_impl", "__libc_start_call_main", "__libc_start_main_alias_2",
    ]

    /// Computes the fingerprint of a crash: its signal (nil for none), its fault kind
    /// ("null-dereference"…, nil if unclassified) and the crashing thread's symbolized frames,
    /// innermost first, flattened (`ThreadReport.flattenedFrames`: an inlined call counts as a
    /// frame, as every format shows it).
    public static func compute(signal: Int32?, faultKind: String?, frames: [Frame]) -> Fingerprint {
        var stack = frames
        // A handler's frames above its trampoline are the handler's, not the bug's.
        if let trampoline = stack.prefix(16).lastIndex(where: \.isSignalFrame) {
            stack.removeSubrange(...trampoline)
        }
        var tokens: [String] = []
        var offsetTokens = 0
        for frame in stack {
            let function = frame.function.map(normalize(function:))
            if let function, crashMachinery.contains(function) || threadBottoms.contains(function) { continue }
            let module = frame.module.map(normalize(module:)) ?? "?"
            let token: String
            if let function {
                token = module + "!" + function
            } else {
                offsetTokens += 1
                token = module + "@" + (frame.buildID ?? "-") + "+0x" + String(frame.moduleOffset ?? frame.pc, radix: 16)
            }
            if tokens.last == token { continue }
            tokens.append(token)
            if tokens.count == depth { break }
        }
        let basis = ["signal=\(signal.map(String.init) ?? "none")", "kind=\(faultKind ?? "unknown")"] + tokens
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in basis.joined(separator: "\n").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        let note = offsetTokens == 0 ? nil
            : "\(offsetTokens) of \(tokens.count) stack tokens had no function name and use a module offset with its build-id: this fingerprint is stable only for this build"
        return Fingerprint(value: rule + ":" + String(repeating: "0", count: 16 - digits.count) + digits,
                           basis: basis, note: note)
    }

    /// "libssl.so.3" → "libssl.so", "/usr/bin/traffic_server" → "traffic_server".
    public static func normalize(module path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if let range = name.firstRange(of: ".so.") { return String(name[..<range.lowerBound]) + ".so" }
        return name
    }

    /// Drops GCC's clone suffixes (".isra.0", ".constprop.1", ".part.2", ".cold") and a symbol
    /// version ("@@GLIBC_2.34").
    public static func normalize(function name: String) -> String {
        var result = name
        if let at = result.firstIndex(of: "@") { result = String(result[..<at]) }
        if let clone = result.firstRange(of: " [clone ") { result = String(result[..<clone.lowerBound]) }
        for suffix in [".isra.", ".constprop.", ".part.", ".cold", ".lto_priv.", ".localalias"] {
            if let range = result.firstRange(of: suffix) { result = String(result[..<range.lowerBound]) }
        }
        return result
    }

    public init(value: String, basis: [String], note: String? = nil) {
        self.value = value; self.basis = basis; self.note = note
    }
}
