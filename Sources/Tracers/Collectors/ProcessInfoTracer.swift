// ProcessInfoTracer (`use = "process"`): the crashing process beyond traffic_crashlog's status and
// limits: command line, executable, working directory, threads, the limits it is close to (open
// files, threads, address space: flagged at 90 %), open descriptors by kind, memory map summary
// (or every mapping), OOM score, I/O and scheduler counters, namespaces, and the environment with
// the values of secret-looking variables redacted
// (by name and by value shape: Redactor).

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

/// Collects details of the target process while it is held.
public struct ProcessInfoTracer: SectionCollector {
    /// Its name in configuration (`use = "process"`) and in the registry.
    public static let name = "process"
    public var name: String { Self.name }
    /// Environment variables whose names contain one of these (case-insensitive) are redacted.
    public var redactPatterns: [String]
    /// List every mapping instead of a summary.
    public var fullMaps: Bool
    /// At most this many descriptors are listed one by one.
    public var maxListedDescriptors: Int

    public static let defaultRedactPatterns = Redactor.defaultNamePatterns
    public static let redacted = Redactor.marker

    public init(redactPatterns: [String] = ProcessInfoTracer.defaultRedactPatterns, fullMaps: Bool = false,
                maxListedDescriptors: Int = 64) {
        self.redactPatterns = redactPatterns; self.fullMaps = fullMaps; self.maxListedDescriptors = maxListedDescriptors
    }

    /// The extra patterns this tracer's `redact` setting added to the defaults.
    public var redactNamePatterns: [String] { Array(redactPatterns.dropFirst(Self.defaultRedactPatterns.count)) }

    public func collect(from snapshot: any ProcessSnapshot, context: CollectorContext) -> ReportSection {
        let pid = snapshot.pid
        let proc = "/proc/\(pid)"
        var builder = SectionBuilder(id: "process", title: "Process Details")
        // `redactPatterns` holds the defaults too, which the Redactor always has: give it the extras only.
        let redactor = Redactor(extraNamePatterns: redactNamePatterns)
        builder.add("command_line", .list(redactor.redactArguments(snapshot.commandLine)))
        builder.add("executable", .text(snapshot.executable))
        builder.add("cwd", ProcFile.readLink(proc + "/cwd").map { .text($0) })
        let status = builder.read(proc + "/status").map(SectionBuilder.numbers) ?? [:]
        let threads = Int64(snapshot.threads.count)
        builder.add("threads", .integer(threads))
        for key in ["VmPeak", "VmSize", "VmHWM", "VmRSS", "RssAnon", "RssFile", "VmSwap"] {
            builder.add(key.lowercased() + "_kb", status[key].map { .integer($0) })
        }
        builder.add("context_switches", .group([
            Field("voluntary", .integer(status["voluntary_ctxt_switches"] ?? 0)),
            Field("nonvoluntary", .integer(status["nonvoluntary_ctxt_switches"] ?? 0)),
        ]))

        let limits = builder.read(proc + "/limits").map(Self.softLimits) ?? [:]
        let descriptors = ProcFile.numericEntries(of: proc + "/fd")
        builder.add("open_descriptors", .integer(Int64(descriptors.count)),
                    flag: Self.nearLimit(Int64(descriptors.count), limits["Max open files"], "open files"))
        builder.add("threads_against_limit", .integer(threads),
                    flag: Self.nearLimit(threads, limits["Max processes"], "max processes (threads count against it)"))
        builder.add("address_space_bytes", status["VmSize"].map { .integer($0 * 1024) },
                    flag: Self.nearLimit((status["VmSize"] ?? 0) * 1024, limits["Max address space"], "address space"))
        addDescriptors(descriptors, proc: proc, to: &builder)
        addMaps(snapshot.mappings, to: &builder)

        if let score = builder.read(proc + "/oom_score")?.trimmingWhitespace() { builder.add("oom_score", Int64(score).map { .integer($0) }) }
        if let adjust = builder.read(proc + "/oom_score_adj")?.trimmingWhitespace() { builder.add("oom_score_adj", Int64(adjust).map { .integer($0) }) }
        if let io = builder.read(proc + "/io") {
            let values = SectionBuilder.numbers(in: io)
            builder.add("io", .group(["rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes", "cancelled_write_bytes"]
                .compactMap { key in values[key].map { Field(key, .integer($0)) } }))
        }
        if let schedstat = builder.read(proc + "/schedstat")?.split(separator: " ").compactMap({ Int64($0.trimmingWhitespace()) }),
           schedstat.count == 3 {
            builder.add("scheduler", .group([Field("cpu_time_ns", .integer(schedstat[0])),
                                             Field("wait_time_ns", .integer(schedstat[1])),
                                             Field("timeslices", .integer(schedstat[2]))]))
        }
        var namespaces: [Field] = []
        for kind in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
            if let link = ProcFile.readLink(proc + "/ns/" + kind) { namespaces.append(Field(kind, .text(link))) }
        }
        builder.add("namespaces", .group(namespaces))
        addEnvironment(proc: proc, redactor: redactor, to: &builder)
        return builder.section
    }

    /// "Max open files            20000    20000    files" → ["Max open files": 20000] (soft limits;
    /// "unlimited" is left out).
    static func softLimits(_ text: String) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for line in text.split(separator: "\n").dropFirst() where line.count > 26 {
            let name = line.prefix(26).trimmingWhitespace()
            if let soft = line.dropFirst(26).split(separator: " ").first, let value = Int64(soft) { result[name] = value }
        }
        return result
    }

    /// "at 93 % of the open files limit (20000)" when `value` reaches 90 % of `limit`.
    static func nearLimit(_ value: Int64, _ limit: Int64?, _ what: String) -> String? {
        guard let limit, limit > 0, value * 10 >= limit * 9 else { return nil }
        return "at \(value * 100 / limit) % of the \(what) limit (\(limit))"
    }

    private func addDescriptors(_ descriptors: [Int32], proc: String, to builder: inout SectionBuilder) {
        var kinds: [String: Int64] = [:]
        var listed: [String] = []
        for fd in descriptors {
            let target = ProcFile.readLink("\(proc)/fd/\(fd)") ?? "?"
            let kind = target.hasPrefix("socket:") ? "socket" : target.hasPrefix("pipe:") ? "pipe"
                : target.hasPrefix("anon_inode:") ? "anon_inode" : target.hasPrefix("/dev/") ? "device"
                : target.hasPrefix("/") ? "file" : "other"
            kinds[kind, default: 0] += 1
            if listed.count < maxListedDescriptors { listed.append("\(fd) -> \(target)") }
        }
        builder.add("descriptors_by_kind", .group(kinds.sorted { $0.key < $1.key }.map { Field($0.key, .integer($0.value)) }))
        builder.add("descriptors", .list(listed),
                    flag: descriptors.count > listed.count ? "first \(listed.count) of \(descriptors.count)" : nil)
    }

    private func addMaps(_ mappings: [MemoryMapping], to builder: inout SectionBuilder) {
        if fullMaps {
            builder.add("mappings", .list(mappings.map {
                "\(String($0.start, radix: 16))-\(String($0.end, radix: 16)) \($0.permissions) \($0.path)"
            }))
            return
        }
        var bytes: [String: Int64] = [:], counts: [String: Int64] = [:]
        for mapping in mappings {
            let kind = mapping.path.hasPrefix("/") ? "file" : mapping.path.isEmpty ? "anonymous"
                : mapping.path.hasPrefix("[stack") ? "stack" : mapping.path == "[heap]" ? "heap" : "other"
            bytes[kind, default: 0] += Int64(mapping.end - mapping.start)
            counts[kind, default: 0] += 1
        }
        builder.add("mappings_summary", .group(bytes.keys.sorted().map { kind in
            Field(kind, .group([Field("count", .integer(counts[kind]!)), Field("bytes", .integer(bytes[kind]!))]))
        } + [Field("total_mappings", .integer(Int64(mappings.count)))]))
    }

    private func addEnvironment(proc: String, redactor: Redactor, to builder: inout SectionBuilder) {
        guard case .success(let bytes) = ProcFile.readBytes(proc + "/environ", limit: 256 * 1024) else {
            builder.note("environment: cannot read \(proc)/environ")
            return
        }
        let entries = bytes.split(separator: 0).map { redactor.redactEnvironmentEntry(String(decoding: $0, as: UTF8.self)) }
        builder.add("environment", .list(entries))
    }
}
