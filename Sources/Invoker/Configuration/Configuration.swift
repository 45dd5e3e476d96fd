// Configuration: what an operator sets in invoker.conf (TOML): global settings and the ordered
// chain of tracers (built-ins, each a configured stage from BuiltinRegistry, and external
// programs). Values only; loading and validation live in ConfigurationLoader.

import Tracers

/// What to do when a tracer fails (exits non-zero, times out, cannot start).
enum FailurePolicy: String, CaseIterable {
    /// Run the rest of the chain (the default).
    case `continue`
    /// Stop the chain, as the old backtrace-invoker did; the report is still written.
    case stop
}

/// One external program in the chain.
struct ExternalTracerSpec: Equatable {
    var name: String
    /// argv, with placeholders (%p %t %s %e %o %r %%) still in it.
    var command: [String]
    /// Seconds before it is terminated (SIGTERM to its process group, then SIGKILL).
    var timeout: Double
    /// Run as this user (name or uid); nil means the `--user` Traffic Server passed, else ourselves.
    var user: String?
    /// Extra environment variables.
    var environment: [String: String]
    var workingDirectory: String?
    /// Which of our (the server's) environment it inherits, before `environment` is added.
    var inheritEnvironment: EnvironmentInheritance = .sanitized
}

/// `inherit_env` of an external tracer.
enum EnvironmentInheritance: String, CaseIterable {
    /// Every variable except those whose name or value is a secret (Redactor); the default.
    case sanitized
    /// Every variable, secrets included.
    case all
    /// None: only the tracer's `env`.
    case none
}

/// One built-in tracer in the chain.
struct BuiltinTracerSpec: Equatable {
    /// The name of its BuiltinRegistry entry (`use = "unwind"`).
    var use: String
    /// Its stage, configured from its settings by the registry entry.
    var stage: BuiltinStage
}

/// An entry of the chain.
enum TracerSpec: Equatable {
    case builtin(BuiltinTracerSpec)
    case external(ExternalTracerSpec)

    var name: String {
        switch self {
        case .builtin(let spec): spec.use
        case .external(let spec): spec.name
        }
    }
}

/// The whole configuration.
struct Configuration: Equatable {
    /// Where reports go; nil means the Traffic Server log directory (see LogDirectory).
    var outputDirectory: String?
    var formats: [ReportFormat] = [.text, .json]
    /// Seconds for the whole run after the wake.
    var deadline: Double = 60
    var failurePolicy: FailurePolicy = .continue
    /// Bytes of output kept per external tracer.
    var maxOutputBytes: Int = 1 << 20
    /// Keep at most this many crash logs in the output directory (0: keep all).
    var retention: Int = 0
    /// With no external tracer in the chain, let the crashed server go as soon as its stacks are
    /// captured and symbolize and write the report afterwards (in a child process).
    var earlyRelease = true
    /// Seconds the attach waits for the target's threads to stop (within the deadline); a thread
    /// still running then (uninterruptible sleep) is left out, and the others are captured.
    var stopTimeout: Double = 2
    /// Bytes of the threads' stacks copied up front while the target is stopped, in all; stacks
    /// beyond it are read page by page as the unwinder needs them.
    var stackCopyLimit: Int = 64 << 20
    /// Where separate debug files are kept with their DWARF uncompressed (debug_info_cache), so
    /// that no crash inflates zlib while the server is stopped; nil: not kept ("").
    var debugInfoCache: String? = Configuration.defaultDebugInfoCache
    /// Whether `debugInfoCache` is the built-in default (not named in the file): a default that
    /// cannot be used (not root, a read-only /var) is passed over in silence.
    var debugInfoCacheIsDefault = true
    /// The most the debug-info cache may hold (debug_info_cache_limit, bytes): past it, the files
    /// least recently used are removed after a run has stored its own.
    var debugInfoCacheLimit: UInt64 = 1 << 30
    static let defaultDebugInfoCache = "/var/cache/invoker/debug-info"
    /// `invoker core` as a kernel.core_pattern pipe: keep the piped core, gzip-compressed, beside
    /// the report (keep_core), at most this many bytes of it (keep_core_limit, before compression).
    var keepCore = false
    var keepCoreLimit: UInt64 = 1 << 30
    /// The text log's thread layout (log_layout); nil is "auto": the layout of the Traffic
    /// Server that started us (LogLayout.automatic).
    var logLayout: LogLayout? = nil
    /// In the text log, print threads with identical stacks once, with a count and their tids and
    /// names (the crashing thread always stands alone and in full).
    var groupThreads = true
    var tracers: [TracerSpec] = Configuration.defaultTracers
    /// The crash store, crash-loop protection and the store's limits (`[store]`).
    var store = StoreSettings()
    /// Programs run after the final report, outside the server's downtime (`[[notify]]`).
    var notifiers: [NotifierSpec] = []
    /// What was left out while assembling (a bad command-line tracer), as sentences to log.
    var warnings: [String] = []
    /// The `[sentry]` table: forwarding reports to Sentry (nil: no table; SENTRY_DSN alone also enables it).
    var sentry: SentrySettings? = nil

    /// The chain used when no file configures one (the registry's default built-ins).
    static var defaultTracers: [TracerSpec] { BuiltinRegistry.defaultChain.map { .builtin($0) } }

    /// The configured built-ins' stages, in chain order.
    var builtinStages: [BuiltinStage] {
        tracers.compactMap { spec in
            if case .builtin(let builtin) = spec { return builtin.stage }
            return nil
        }
    }
}
