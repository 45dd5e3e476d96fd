// SystemStatsTracer (`use = "sysstats"`): the machine around the crash: kernel and distribution,
// hostname, uptime, load, memory, CPU time split, pressure stall information, disk space of the
// log directory and of the process's working directory, the target's cgroup limits and usage
// (v2, or v1's memory, cpu and pids controllers) and whether it runs in a container.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

/// Collects system statistics while the target is held.
public struct SystemStatsTracer: SectionCollector {
    /// Its name in configuration (`use = "sysstats"`) and in the registry.
    public static let name = "sysstats"
    public var name: String { Self.name }

    public init() {}

    public func collect(from snapshot: any ProcessSnapshot, context: CollectorContext) -> ReportSection {
        var builder = SectionBuilder(id: "system", title: "System")
        var uts = utsname()
        uname(&uts)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        builder.add("hostname", .text(text(uts.nodename)))
        builder.add("kernel", .text("\(text(uts.sysname)) \(text(uts.release)) \(text(uts.version)) \(text(uts.machine))"))
        // /etc/os-release is usually a symbolic link to /usr/lib/os-release, and reads here never
        // follow links: read the target directly when the link is refused.
        if let release = ProcFile.readText("/etc/os-release", limit: 16 * 1024)
            ?? builder.read("/usr/lib/os-release", limit: 16 * 1024, what: "distribution") {
            let pretty = release.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            builder.add("distribution", pretty.map { .text(String($0.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: "\"")) })
        }
        if let uptime = builder.read("/proc/uptime"), let seconds = uptime.split(separator: " ").first.flatMap({ Double($0) }) {
            builder.add("uptime_seconds", .integer(Int64(seconds)))
        }
        if let load = builder.read("/proc/loadavg") {
            let parts = load.split(separator: " ")
            if parts.count >= 4 {
                builder.add("load_average", .text(parts.prefix(3).joined(separator: " ")))
                builder.add("tasks", .text(String(parts[3])))
            }
        }
        if let meminfo = builder.read("/proc/meminfo") {
            let values = SectionBuilder.numbers(in: meminfo)
            builder.add("memory_kb", .group(["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree",
                                             "Dirty", "Committed_AS"].compactMap { key in
                values[key].map { Field(key, .integer($0)) }
            }))
        }
        if let stat = builder.read("/proc/stat", limit: 256 * 1024), let cpu = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) {
            let names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
            let ticks = cpu.split(separator: " ").dropFirst().compactMap { Int64($0) }
            let total = ticks.prefix(names.count).reduce(0, +)
            if total > 0 {
                builder.add("cpu_time_percent_since_boot", .group(zip(names, ticks).map { Field($0, .number((Double($1) * 1000 / Double(total)).rounded() / 10)) }))
            }
            builder.add("cpus", .integer(Int64(stat.split(separator: "\n").filter { $0.hasPrefix("cpu") && !$0.hasPrefix("cpu ") }.count)))
        }
        var pressure: [Field] = []
        for resource in ["cpu", "memory", "io"] {
            if let text = ProcFile.readText("/proc/pressure/\(resource)", limit: 4096) {
                pressure.append(Field(resource, .list(text.split(separator: "\n").map(String.init))))
            }
        }
        if !pressure.isEmpty { builder.add("pressure", .group(pressure)) }
        builder.add("disk_output_directory", SectionBuilder.diskSpace(context.outputDirectory))
        if let cwd = ProcFile.readLink("/proc/\(snapshot.pid)/cwd") {
            builder.add("disk_process_cwd", SectionBuilder.diskSpace(cwd))
        }
        CgroupReader(pid: snapshot.pid).add(to: &builder)
        builder.add("container", .text(ContainerDetector.detect()))
        return builder.section
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var result = Substring(self)
        while result.first == set { result = result.dropFirst() }
        while result.last == set { result = result.dropLast() }
        return String(result)
    }
}

/// Whether we run in a container, and which kind, from the usual markers.
enum ContainerDetector {
    static func detect() -> String {
        if access("/.dockerenv", F_OK) == 0 { return "docker" }
        if access("/run/.containerenv", F_OK) == 0 { return "podman" }
        if let environ = ProcFile.readBytes("/proc/1/environ", limit: 64 * 1024).get {
            for entry in environ.split(separator: 0) where entry.starts(with: Array("container=".utf8)) {
                return String(decoding: entry.dropFirst("container=".count), as: UTF8.self)
            }
        }
        if let cgroups = ProcFile.readText("/proc/1/cgroup", limit: 16 * 1024),
           ["docker", "kubepods", "lxc", "containerd"].contains(where: { cgroups.contains($0) }) {
            return "container (from /proc/1/cgroup)"
        }
        return "none detected"
    }
}
