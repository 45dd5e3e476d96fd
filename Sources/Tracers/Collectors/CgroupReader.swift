// CgroupReader: the target's control group limits and usage. cgroup v2 (one unified hierarchy:
// memory.max/current/events, cpu.max, pids.max/current) where the target has one; otherwise
// cgroup v1's memory, cpu and pids controllers (memory.limit_in_bytes, usage_in_bytes,
// oom_control; cpu.cfs_quota_us/cfs_period_us; pids.max/current).

import TracerKit

struct CgroupReader {
    let pid: Int32

    func add(to builder: inout SectionBuilder) {
        guard let text = builder.read("/proc/\(pid)/cgroup", what: "cgroup") else { return }
        var v1: [String: String] = [:]
        var v2: String? = nil
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty { v2 = String(parts[2]) }
            for controller in parts[1].split(separator: ",") { v1[String(controller)] = String(parts[2]) }
        }
        var fields: [Field] = []
        if let memoryPath = v1["memory"] {
            let base = "/sys/fs/cgroup/memory" + memoryPath
            fields.append(Field("version", .text("v1")))
            fields.append(Field("memory_path", .text(memoryPath)))
            add(&fields, "memory_limit_bytes", base + "/memory.limit_in_bytes")
            add(&fields, "memory_usage_bytes", base + "/memory.usage_in_bytes")
            add(&fields, "memory_max_usage_bytes", base + "/memory.max_usage_in_bytes")
            if let oom = ProcFile.readText(base + "/memory.oom_control", limit: 4096) {
                let values = SectionBuilder.numbers(in: oom.replacingSpacesWithColons())
                if let kills = values["oom_kill"] { fields.append(Field("oom_kills", .integer(kills))) }
                if let under = values["under_oom"] { fields.append(Field("under_oom", .flag(under != 0))) }
            }
            if let cpuPath = v1["cpu"] {
                let cpu = "/sys/fs/cgroup/cpu" + cpuPath
                add(&fields, "cpu_cfs_quota_us", cpu + "/cpu.cfs_quota_us")
                add(&fields, "cpu_cfs_period_us", cpu + "/cpu.cfs_period_us")
            }
            if let pidsPath = v1["pids"] {
                let pids = "/sys/fs/cgroup/pids" + pidsPath
                add(&fields, "pids_max", pids + "/pids.max")
                add(&fields, "pids_current", pids + "/pids.current")
            }
        } else if let v2 {
            let mount = ProcFile.readText("/sys/fs/cgroup/cgroup.controllers", limit: 4096) != nil
                ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified"
            let base = mount + (v2 == "/" ? "" : v2)
            fields.append(Field("version", .text("v2")))
            fields.append(Field("path", .text(v2)))
            add(&fields, "memory_max", base + "/memory.max")
            add(&fields, "memory_current", base + "/memory.current")
            add(&fields, "memory_peak", base + "/memory.peak")
            if let events = ProcFile.readText(base + "/memory.events", limit: 4096) {
                let values = SectionBuilder.numbers(in: events.replacingSpacesWithColons())
                if let kills = values["oom_kill"] { fields.append(Field("oom_kills", .integer(kills))) }
            }
            add(&fields, "cpu_max", base + "/cpu.max")
            add(&fields, "pids_max", base + "/pids.max")
            add(&fields, "pids_current", base + "/pids.current")
        }
        if !fields.isEmpty { builder.add("cgroup", .group(fields)) }
    }

    /// The trimmed text of a one-line file as an integer if it is one ("max" stays text).
    private func add(_ fields: inout [Field], _ key: String, _ path: String) {
        guard let text = ProcFile.readText(path, limit: 256)?.trimmingWhitespace(), !text.isEmpty else { return }
        fields.append(Field(key, Int64(text).map { .integer($0) } ?? .text(text)))
    }
}

extension String {
    /// "oom_kill 3" → "oom_kill: 3", so SectionBuilder.numbers reads flat key/value files.
    func replacingSpacesWithColons() -> String {
        split(separator: "\n").map { line in
            guard let space = line.firstIndex(of: " ") else { return String(line) }
            return line[..<space] + ":" + line[line.index(after: space)...]
        }.joined(separator: "\n")
    }
}
