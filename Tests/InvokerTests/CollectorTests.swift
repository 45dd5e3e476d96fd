// The process and system collectors, checked against /proc read here independently; secrets in
// the environment redacted; a memory limit set on the target's cgroup shows in the report; the
// JSON report validates against schema/invoker-report-1.schema.json.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing
import TracerKit
import Tracers

/// A hanging fixture to capture live, started with `environment`, ready when this returns.
func startHangingTarget(environment: [String: String] = [:]) throws -> TestProcess {
    adoptOrphans()
    let target = try TestProcess(builtProduct("ats-crasher"), [
        "--helper", builtProduct("invoker"), "--mode", "hang", "--threads", "2", "--ready-fd", "3",
        "--", "--log-dir", "/tmp",
    ], environment: environment, reportPipe: true)
    _ = target.readReportLine()
    return target
}

/// Runs `invoker snapshot` on `pid` and returns the JSON report and the text log.
func snapshotReports(_ pid: Int32, config: String? = nil) throws -> (json: [String: Any], text: String, jsonPath: String) {
    let directory = makeTemporaryDirectory()
    let (status, output) = try runInvoker(["snapshot", "--pid", String(pid), "--output", directory]
                                          + (config.map { ["--config", $0] } ?? []))
    #expect(status == 0, "\(output)")
    let names = directoryEntries(directory)
    let json = try #require(names.first { $0.hasSuffix(".json") })
    let text = try #require(names.first { $0.hasSuffix(".log") })
    let data = try #require(readFile(directory + "/" + json)).data(using: .utf8)!
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    try expectRoundTrip(jsonPath: directory + "/" + json)
    return (object, readFile(directory + "/" + text) ?? "", directory + "/" + json)
}

/// The fields of section `id` of a JSON report.
func sectionFields(_ report: [String: Any], _ id: String) -> [String: Any] {
    ((report["sections"] as? [String: Any])?[id] as? [String: Any])?["fields"] as? [String: Any] ?? [:]
}

/// A field's value (unwrapping {value, flag}).
func value(_ fields: [String: Any], _ key: String) -> Any? {
    if let flagged = fields[key] as? [String: Any], let inner = flagged["value"], flagged["flag"] != nil { return inner }
    return fields[key]
}

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct CollectorTests {
    @Test func processSectionAgreesWithProcAndRedactsSecrets() throws {
        let target = try startHangingTarget(environment: [
            "APP_DB_PASSWORD": "hunter2-planted", "API_TOKEN": "tok-planted-123", "MY_SECRET_SAUCE": "sauce-planted",
            "AWS_ACCESS_KEY_ID": "AKIA-planted", "PLAIN_SETTING": "visible-value",
        ])
        defer { target.finish(); reapAllChildren() }
        let (json, text, _) = try snapshotReports(target.pid)
        let process = sectionFields(json, "process")
        // Cross-checked against /proc, read here.
        #expect(value(process, "threads") as? Int == ProcFile.numericEntries(of: "/proc/\(target.pid)/task").count)
        #expect(value(process, "open_descriptors") as? Int == ProcFile.numericEntries(of: "/proc/\(target.pid)/fd").count)
        #expect(value(process, "cwd") as? String == ProcFile.readLink("/proc/\(target.pid)/cwd"))
        #expect(value(process, "executable") as? String == ProcFile.readLink("/proc/\(target.pid)/exe"))
        let adjust = readFile("/proc/\(target.pid)/oom_score_adj").flatMap { Int($0.trimmingWhitespace()) }
        #expect(value(process, "oom_score_adj") as? Int == adjust)
        let namespaces = value(process, "namespaces") as? [String: Any]
        #expect(namespaces?["pid"] as? String == ProcFile.readLink("/proc/\(target.pid)/ns/pid"))
        // Secrets: the names stay, the values go, everywhere.
        let environment = value(process, "environment") as? [String] ?? []
        for name in ["APP_DB_PASSWORD", "API_TOKEN", "MY_SECRET_SAUCE", "AWS_ACCESS_KEY_ID"] {
            #expect(environment.contains("\(name)=<redacted>"))
        }
        #expect(environment.contains("PLAIN_SETTING=visible-value"))
        for planted in ["hunter2-planted", "tok-planted-123", "sauce-planted", "AKIA-planted"] {
            #expect(!text.contains(planted))
            #expect(!String(describing: json).contains(planted))
        }
        #expect(text.contains("Process Details:"))
        #expect(target.state != "t" && target.tracer == 0)
    }

    @Test func limitsCloseToExhaustionAreFlagged() throws {
        // A target that has said it is ready: its descriptors no longer change (a process just
        // exec'ed still has the dynamic loader's files open for a moment).
        let sleeper = try startHangingTarget()
        defer { sleeper.finish(); reapAllChildren() }
        // Its open descriptors against a limit of exactly that many: 100 % of it.
        let count = ProcFile.numericEntries(of: "/proc/\(sleeper.pid)/fd").count
        let prlimit = try TestProcess("/usr/bin/prlimit", ["--pid", String(sleeper.pid), "--nofile=\(count):\(count)"])
        #expect(prlimit.waitForExit() == 0)
        let (json, text, _) = try snapshotReports(sleeper.pid)
        let open = sectionFields(json, "process")["open_descriptors"] as? [String: Any]
        let reported = try #require(open?["value"] as? Int, "open_descriptors carries no flag: \(String(describing: sectionFields(json, "process")["open_descriptors"]))")
        #expect(reported == ProcFile.numericEntries(of: "/proc/\(sleeper.pid)/fd").count)
        #expect(open?["flag"] as? String == "at \(reported * 100 / count) % of the open files limit (\(count))")
        #expect(text.contains("[at \(reported * 100 / count) % of the open files limit (\(count))]"))
        // Far from their limits, the others carry no flag.
        #expect(sectionFields(json, "process")["threads_against_limit"] is Int)
        sleeper.finish()
        reapAllChildren()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func systemSectionAgreesWithProc() throws {
        let target = try startHangingTarget()
        defer { target.finish(); reapAllChildren() }
        let (json, text, _) = try snapshotReports(target.pid)
        let system = sectionFields(json, "system")
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        #expect(value(system, "hostname") as? String == String(cString: name))
        let memory = value(system, "memory_kb") as? [String: Any]
        let meminfo = readFile("/proc/meminfo") ?? ""
        let total = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }?
            .split(separator: " ").dropFirst().first.flatMap { Int($0) }
        #expect(memory?["mem_total"] as? Int == total)
        let cpus = (readFile("/proc/stat") ?? "").split(separator: "\n").filter { $0.hasPrefix("cpu") && !$0.hasPrefix("cpu ") }.count
        #expect(value(system, "cpus") as? Int == cpus)
        let disk = value(system, "disk_output_directory") as? [String: Any]
        #expect((disk?["total_bytes"] as? Int ?? 0) > 0)
        #expect(value(system, "container") != nil)
        #expect(text.contains("System:"))
    }

    @Test func cgroupMemoryLimitShows() throws {
        let target = try startHangingTarget()
        defer { target.finish(); reapAllChildren() }
        let group = try #require(TestCgroup(name: "invoker-test-\(getpid())", memoryLimit: 268_435_456),
                                 "no writable cgroup with a memory controller here")
        defer { group.remove() }
        try group.add(target.pid)
        let (json, _, _) = try snapshotReports(target.pid)
        let cgroup = value(sectionFields(json, "system"), "cgroup") as? [String: Any]
        let limit = cgroup?["memory_limit_bytes"] ?? cgroup?["memory_max"]
        #expect(limit as? Int == 268_435_456, "\(String(describing: cgroup))")
        target.finish()
        reapAllChildren()
    }

    @Test func jsonReportValidatesAgainstTheSchema() throws {
        let run = try CrasherRun.run(payload: "10.2", mode: "segv")
        let json = try #require(directoryEntries(run.directory).first { $0.hasSuffix(".json") })
        #expect(json == run.logs.first?.replacingOccurrences(of: ".log", with: ".json"))
        #expect(fileMode(run.directory + "/" + json) == 0o400)
        let data = try #require(readFile(run.directory + "/" + json)).data(using: .utf8)!
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["schema"] as? String == "invoker-report/1")
        let threads = report["threads"] as? [[String: Any]] ?? []
        #expect(threads.count == 4)
        let crashed = try #require(threads.first { $0["crashed"] as? Bool == true })
        let frames = crashed["frames"] as? [[String: Any]] ?? []
        #expect(frames.prefix(3).compactMap { $0["function"] as? String } == ["fixture_crash_segv", "fixture_crash_middle", "fixture_crash_outer"])
        #expect(frames.first?["recovery"] as? String == "context")
        let fault = report["fault"] as? [String: Any]
        #expect((fault?["signal"] as? [String: Any])?["name"] as? String == "SIGSEGV")
        #expect(fault?["crashing_thread"] as? Int == crashed["tid"] as? Int)
        // The published schema accepts it (Debian's python3-jsonschema, which scripts/install-deps installs).
        #expect(try schemaComplaint(reportPath: run.directory + "/" + json) == nil)
        try expectRoundTrip(jsonPath: run.directory + "/" + json)
    }

    /// A `redact` setting's names are redacted besides the defaults, and nothing else is.
    @Test func theRedactSettingsExtraNamesAreRedactedInTheEnvironment() throws {
        let sleeper = try TestProcess("/bin/sleep", ["30"], environment: [
            "SHOP_PIN": "4321", "API_TOKEN": "t0ken-value", "GREETING": "hello"])
        defer { sleeper.finish() }
        sleeper.waitUntilSleeping()
        let snapshot = InMemoryProcessSnapshot(pid: sleeper.pid, executable: "/bin/sleep", commandLine: ["/bin/sleep", "30"])
        let section = ProcessInfoTracer(redactPatterns: ProcessInfoTracer.defaultRedactPatterns + ["PIN"])
            .collect(from: snapshot, context: CollectorContext(outputDirectory: "/tmp", deadline: Deadline.now().adding(seconds: 10)))
        guard case .list(let environment)? = section.fields.first(where: { $0.key == "environment" })?.value else {
            Issue.record("no environment in \(section.fields.map(\.key))")
            return
        }
        #expect(environment.contains("SHOP_PIN=\(Redactor.marker)"))
        #expect(environment.contains("API_TOKEN=\(Redactor.marker)"))
        #expect(environment.contains("GREETING=hello"))
        #expect(!environment.contains { $0.contains("4321") || $0.contains("t0ken-value") })
    }
}

/// A memory-limited control group for a test: cgroup v2 where /sys/fs/cgroup has the memory
/// controller, else cgroup v1's memory hierarchy (under our own group).
struct TestCgroup {
    let path: String
    let procsFile: String

    init?(name: String, memoryLimit: Int) {
        let v2 = "/sys/fs/cgroup"
        if (readFile(v2 + "/cgroup.controllers") ?? "").split(separator: " ").contains(where: { $0.trimmingWhitespace() == "memory" }) {
            path = v2 + "/" + name
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else { return nil }
            procsFile = path + "/cgroup.procs"
            guard (try? TrafficServerSandbox.write("\(memoryLimit)\n", to: path + "/memory.max")) != nil else { return nil }
        } else {
            let own = (readFile("/proc/self/cgroup") ?? "").split(separator: "\n")
                .first { $0.split(separator: ":").dropFirst().first?.split(separator: ",").contains("memory") == true }?
                .split(separator: ":", maxSplits: 2).last.map(String.init) ?? "/"
            path = "/sys/fs/cgroup/memory" + (own == "/" ? "" : own) + "/" + name
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else { return nil }
            procsFile = path + "/cgroup.procs"
            guard (try? TrafficServerSandbox.write("\(memoryLimit)\n", to: path + "/memory.limit_in_bytes")) != nil else { return nil }
        }
    }

    func add(_ pid: Int32) throws { try TrafficServerSandbox.write("\(pid)\n", to: procsFile) }

    /// Removes the group (its processes must have exited).
    func remove() { rmdir(path) }
}
