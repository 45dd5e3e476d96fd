// SentryEventMapper+Contexts: the event's contexts: os (kernel, distribution) and device (arch,
// memory) from the report's system section, app (the server), and invoker's own (report schema,
// helper version, payload, timings, problems, and what the mapping cut).

extension SentryEventMapper {
    func contexts(_ document: ReportDocument, version: String?, cuts: [String], detail: SentryDetail) -> JSONValue {
        let system = document.sections["system"].map { JSONValue.object($0.fields) }
        // "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian … x86_64" (sysname release version machine).
        let kernel = system?["kernel"]?.stringValue
        let kernelWords = kernel?.split(separator: " ").map(String.init) ?? []
        var os: [String: JSONValue] = ["type": "os", "name": .string(kernelWords.first ?? "Linux")]
        if kernelWords.count > 1 { os["version"] = .string(kernelWords[1]) }
        if let kernel { os["kernel_version"] = .string(kernel) }
        if let distribution = system?["distribution"]?.stringValue { os["raw_description"] = .string(distribution) }

        var device: [String: JSONValue] = ["type": "device"]
        if let machine = kernelWords.last, kernelWords.count > 2 { device["arch"] = .string(machine) }
        else if let triplet = document.host?.triplet, let arch = triplet.split(separator: "-").first { device["arch"] = .string(String(arch)) }
        let memory = system?["memory_kb"] ?? system?["memoryKb"]
        // The report writes /proc/meminfo's names in snake case (mem_total); older ones as is.
        if let total = Self.kilobytes(memory?["mem_total"] ?? memory?["MemTotal"]) { device["memory_size"] = .integer(total * 1024) }
        if let free = Self.kilobytes(memory?["mem_available"] ?? memory?["MemAvailable"]) {
            device["free_memory"] = .integer(free * 1024)
        }
        if let cpus = system?["cpus"]?.integerValue { device["processor_count"] = .integer(cpus) }

        var app: [String: JSONValue] = ["type": "app", "app_name": .string(document.process.name ?? document.process.executable ?? "?")]
        if let version { app["app_version"] = .string(version) }

        var invoker: [String: JSONValue] = [
            "type": "invoker",
            "report_schema": .string(document.schema),
            "invoker_version": .string(document.generator?.version ?? "?"),
            "report_kind": .string(document.kind ?? "?"),
            "report_time": .string(document.time ?? "?"),
            "pid": .integer(Int64(document.process.pid)),
            "executable": .string(document.process.executable ?? "?"),
            "command_line": .array(redactedCommandLine(document.process.commandLine).map { .string($0) }),
            "timing": .array(document.timing.map { .string($0) }),
            "tracers": .array(document.tracers.map { .string("\($0.name): \($0.outcome) (\($0.seconds) s)") }),
            "problems": .array(document.problems.map { .string($0) }),
        ]
        if let payload = document.fault?.payload { invoker["payload"] = .string(payload) }
        if let triplet = document.host?.triplet { invoker["host_triplet"] = .string(triplet) }
        if let classification = document.fault?.classification {
            invoker["fault_evidence"] = .array(classification.evidence.map { .string($0) })
        }
        let stops = document.threads.compactMap { thread in thread.unwindStop.map { "thread \(thread.tid): \($0)" } }
        if !stops.isEmpty { invoker["unwind_stops"] = .array(stops.map { .string($0) }) }
        if !cuts.isEmpty { invoker["cut"] = .array(cuts.map { .string($0) }) }
        return ["os": .object(os), "device": .object(device), "app": .object(app), "invoker": .object(invoker)]
    }

    /// A memory field in kB: a number, or {value, flag} when the collector flagged it.
    private static func kilobytes(_ field: JSONValue?) -> Int64? {
        if let number = field?.integerValue { return number }
        if let number = field?["value"]?.integerValue { return number }
        return nil
    }
}
