// BuiltinRegistry: every built-in tracer described once: its name (`use = "…"`), the settings it
// takes and how they are parsed into its configured stage, which built-in's product it needs
// (which must come earlier in the chain), and whether it is in the default chain. The loader,
// check-config, the documentation test and the dispatcher all read this list; nothing else
// knows the built-ins by name. Adding a built-in collector is one SectionCollector file in
// Sources/Tracers/Collectors, one entry here, and its documentation (invoker.conf(5), the
// example file, README).

import TOMLKit
import TracerKit
import Tracers

/// One built-in tracer.
struct BuiltinEntry: Sendable {
    /// The name in configuration: `use = "unwind"`.
    let name: String
    /// The settings its [[tracer]] table may have besides `use` and `name`.
    let settings: [String]
    /// The built-in whose product its stage takes; it must come earlier in the chain.
    var needs: String? = nil
    /// Whether the default chain (no configuration file) has it.
    var inDefaultChain = false
    /// Its stage, configured from its table's settings.
    let makeStage: @Sendable (BuiltinSettingsReader) throws(ConfigurationError) -> BuiltinStage
}

enum BuiltinRegistry {
    /// The built-ins this build has, in the order the documentation lists them.
    static let entries: [BuiltinEntry] = [unwind, process, sysstats, variables]

    static let unwind = BuiltinEntry(name: UnwindTracer.name, settings: ["max_frames"], inDefaultChain: true) { (settings: BuiltinSettingsReader) throws(ConfigurationError) -> BuiltinStage in
        .unwind(UnwindTracer(maxFrames: try settings.integer("max_frames", in: maxFramesRange) ?? RemoteUnwinder.defaultMaxFrames))
    }

    static let process = BuiltinEntry(name: ProcessInfoTracer.name, settings: ["redact", "maps", "max_descriptors"],
                                      inDefaultChain: true) { (settings: BuiltinSettingsReader) throws(ConfigurationError) -> BuiltinStage in
        let redact = try settings.strings("redact", rule: "must be an array of strings (parts of variable names, such as \"PASSWORD\")") ?? []
        let maps = try settings.choice("maps", among: ["summary", "full"])
        let descriptors = try settings.integer("max_descriptors", in: 0...ConfigurationLoader.maxCount)
        return .collector(ProcessInfoTracer(redactPatterns: ProcessInfoTracer.defaultRedactPatterns + redact,
                                            fullMaps: maps == "full", maxListedDescriptors: descriptors ?? 64))
    }

    static let sysstats = BuiltinEntry(name: SystemStatsTracer.name, settings: [], inDefaultChain: true) { (_: BuiltinSettingsReader) throws(ConfigurationError) -> BuiltinStage in
        .collector(SystemStatsTracer())
    }

    static let variables = BuiltinEntry(
        name: VariablesTracer.name,
        settings: ["threads", "max_frames", "max_depth", "max_elements", "max_value_bytes", "max_total_bytes", "timeout", "globals"],
        needs: UnwindTracer.name
    ) { (settings: BuiltinSettingsReader) throws(ConfigurationError) -> BuiltinStage in
        var options = VariablesOptions()
        if let frames = try settings.integer("max_frames", in: maxFramesRange) { options.maxFrames = frames }
        if let which = try settings.choice("threads", among: ["crashing", "all"]) { options.allThreads = which == "all" }
        if let depth = try settings.integer("max_depth", in: 1...64) { options.maxDepth = depth }
        if let elements = try settings.integer("max_elements", in: 1...100_000) { options.maxElements = elements }
        if let bytes = try settings.integer("max_value_bytes", in: 1...(16 << 20)) { options.maxValueBytes = bytes }
        if let bytes = try settings.integer("max_total_bytes", in: 1...(1 << 30)) { options.maxTotalBytes = bytes }
        if let timeout = try settings.seconds("timeout") { options.timeout = timeout }
        if let globals = try settings.strings("globals", nonEmpty: true,
                                              rule: "must be an array of global variable names, such as [\"server_state\", \"config::limits\"]") {
            options.globals = globals
        }
        return .variables(VariablesTracer(options: options))
    }

    /// Frames per thread, for the unwinder and the variables tracer.
    static let maxFramesRange = 1...4096

    /// The entry named `name`, or nil: an unknown name is refused where it is read, never guessed.
    static func entry(named name: String) -> BuiltinEntry? {
        entries.first { $0.name == name }
    }

    /// Every built-in's name, sorted (for messages).
    static var names: [String] { entries.map(\.name).sorted() }

    /// Every setting some built-in takes (for the documentation test).
    static var settingKeys: [String] { Array(Set(entries.flatMap(\.settings))).sorted() }

    /// The chain used when no file configures one, each with its default settings.
    static var defaultChain: [BuiltinTracerSpec] {
        entries.filter(\.inDefaultChain).compactMap { entry in
            (try? entry.makeStage(.defaults)).map { BuiltinTracerSpec(use: entry.name, stage: $0) }
        }
    }

    /// The first built-in of `chain` that needs another's product not found earlier in the chain,
    /// with the name of what it needs and its position; nil when every need is met.
    static func unmetNeed(in chain: [String?]) -> (index: Int, name: String, needs: String)? {
        for (index, name) in chain.enumerated() {
            guard let name, let needed = entry(named: name)?.needs else { continue }
            if !chain[..<index].contains(needed) { return (index, name, needed) }
        }
        return nil
    }
}
