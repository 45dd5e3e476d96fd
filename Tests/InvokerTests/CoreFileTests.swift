// `invoker core --file`: cores the kernel really wrote, from the core-crasher fixture dying of
// SIGSEGV in a test directory (RLIMIT_CORE raised for that process only; kernel.core_pattern is
// host-global and only read here), turned into a report whose every stack must equal
// `eu-stack --core`'s on the same core.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

/// kernel.core_pattern, and why a test cannot find the core it makes when it is not a plain file
/// name (a pipe to systemd-coredump or apport, or a path elsewhere).
private let corePattern = (readFile("/proc/sys/kernel/core_pattern") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
private var corePatternProblem: String? {
    if corePattern.isEmpty { return "kernel.core_pattern cannot be read" }
    if corePattern.hasPrefix("|") || corePattern.contains("/") {
        return "kernel.core_pattern is \(corePattern), not a file name in the crashing process's directory"
    }
    return nil
}

/// A core of the core-crasher fixture, made by the kernel in a directory of its own.
struct FixtureCore {
    let directory: String
    let pid: Int32
    let path: String
    let executable = builtProduct("core-crasher")

    static func make() throws -> FixtureCore {
        let directory = makeTemporaryDirectory("invoker-core")
        let executable = builtProduct("core-crasher")
        // posix_spawn cannot set limits: the shell raises RLIMIT_CORE, then becomes the fixture,
        // started by a short relative name so its secret argument fits in NT_PRPSINFO's 80 bytes.
        mkdir(directory + "/bin", 0o755)
        symlink(executable, directory + "/bin/core-crasher")
        let process = try TestProcess("/bin/sh", ["-c", "cd \"$1\" && ulimit -c unlimited && exec bin/core-crasher --token s3cret-value",
                                                  "sh", directory],
                                      environment: ["SWIFT_BACKTRACE": "enable=no"])
        let status = process.waitForExit(seconds: 60)
        #expect(status & 0x7f == SIGSEGV, "the fixture should die of SIGSEGV, wait status \(status)")
        #expect(status & 0x80 != 0, "the kernel should have dumped a core (wait status \(status))")
        let prefix = String(corePattern.prefix { $0 != "%" })
        let name = try #require(directoryEntries(directory).first { $0.hasPrefix(prefix) },
                                "no core named \(corePattern) in \(directory): \(directoryEntries(directory))")
        return FixtureCore(directory: directory, pid: process.pid, path: directory + "/" + name)
    }

    func remove() {
        unlink(path)
    }
}

@Suite(.timeLimit(.minutes(2)), .serialized, .enabled(if: corePatternProblem == nil, "\(corePatternProblem ?? "")"))
struct CoreFileTests {
    @Test func aKernelCoreGivesTheCrashReportWithEuStacksStacks() throws {
        let core = try FixtureCore.make()
        defer { core.remove() }
        let output = core.directory + "/reports"
        mkdir(output, 0o755)
        let (status, messages) = try runInvoker(["core", "--file", core.path, "--exe", core.executable, "--log-dir", output])
        #expect(status == 0, "\(messages)")
        let names = directoryEntries(output)
        let jsonName = try #require(names.first { $0.hasPrefix("crash-") && $0.hasSuffix(".json") }, "\(names)")
        let textName = try #require(names.first { $0.hasPrefix("crash-") && $0.hasSuffix(".log") }, "\(names)")
        let data = try #require(readFile(output + "/" + jsonName)).data(using: .utf8)!
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        try expectRoundTrip(jsonPath: output + "/" + jsonName)

        // The fault: NT_SIGINFO's SIGSEGV, SEGV_MAPERR at 0, in the main thread.
        let fault = try #require(report["fault"] as? [String: Any])
        #expect((fault["signal"] as? [String: Any])?["name"] as? String == "SIGSEGV")
        #expect((fault["code"] as? [String: Any])?["value"] as? Int == 1)
        #expect(fault["address"] as? String == "0x0")
        #expect(fault["crashing_thread"] as? Int == Int(core.pid))
        #expect((fault["classification"] as? [String: Any])?["kind"] as? String == "null-dereference")

        // Every thread, each with eu-stack's frames (function and file:line, inlined ones too).
        let oracle = try euStack(arguments: ["--core=" + core.path, "--executable=" + core.executable])
        var ours: [Int32: [OracleFrame]] = [:]
        var crashing: [Int32] = []
        for thread in report["threads"] as? [[String: Any]] ?? [] {
            let tid = Int32(thread["tid"] as? Int ?? -1)
            if thread["crashed"] as? Bool == true { crashing.append(tid) }
            ours[tid] = (thread["frames"] as? [[String: Any]] ?? []).map { frame in
                let file = frame["file"] as? String, line = frame["line"] as? Int
                return OracleFrame(function: frame["function"] as? String ?? "??",
                                   location: file.flatMap { file in line.map { "\(file):\($0)" } })
            }
        }
        #expect(ours.count == 3 && Set(ours.keys) == Set(oracle.keys), "ours \(ours.keys.sorted()) eu-stack \(oracle.keys.sorted())")
        #expect(crashing == [core.pid])
        for (tid, theirs) in oracle {
            #expect(ours[tid] == theirs, "thread \(tid): ours \(ours[tid] ?? []) eu-stack \(theirs)")
        }
        #expect(ours[core.pid]?.prefix(4).map(\.function) == ["core_crash_segv", "core_crash_middle", "core_crash_outer", "main"])
        for (tid, frames) in ours where tid != core.pid {
            #expect(frames.map(\.function).contains(["core_worker_wait", "core_worker_main", "start_thread"]),
                    "thread \(tid): \(frames)")
        }

        // The text log: the same crashing stack, and where the report came from.
        let text = readFile(output + "/" + textName) ?? ""
        #expect(text.contains("Crashing Thread (TID \(core.pid), core-crasher):\n0   0x"))
        #expect(text.contains("read from the core file \(core.path)"))
        // The command line from NT_PRPSINFO, its secret redacted as in every report.
        let process = try #require(report["process"] as? [String: Any])
        #expect("\(process)".contains("bin/core-crasher") && "\(process)".contains("--token"), "\(process)")
        #expect(!text.contains("s3cret-value") && !"\(report)".contains("s3cret-value"))
        #expect(leftoverProcesses().isEmpty, "\(leftoverProcesses())")
    }

    /// `invoker core PID TID 11 1700000000` with the core on a pipe, as kernel.core_pattern
    /// `|invoker core %P %i %s %t` runs it; the report's JSON, parsed.
    func pipe(_ core: FixtureCore, extra: [String] = []) throws -> [String: Any] {
        let output = makeTemporaryDirectory("invoker-core-pipe")
        let pid = String(core.pid)
        let script = "core=$1 invoker=$2 output=$3; shift 3; cat \"$core\" | \"$invoker\" core --log-dir \"$output\" \"$@\""
        let process = try TestProcess("/bin/sh", ["-c", script, "sh", core.path, builtProduct("invoker"), output] + extra + [pid, pid, "11", "1700000000"],
                                      outputPath: output + ".txt")
        #expect(process.waitForExit(seconds: 60) == 0, "\(readFile(output + ".txt") ?? "")")
        let names = directoryEntries(output)
        let jsonName = try #require(names.first { $0.hasPrefix("crash-") && $0.hasSuffix(".json") }, "\(names)")
        #expect(!names.contains { $0.hasSuffix(".tmp") }, "the temporary core is removed: \(names)")
        let data = try #require(readFile(output + "/" + jsonName)).data(using: .utf8)!
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func functions(_ report: [String: Any]) -> [Int: [String]] {
        var result: [Int: [String]] = [:]
        for thread in report["threads"] as? [[String: Any]] ?? [] {
            result[thread["tid"] as? Int ?? -1] = (thread["frames"] as? [[String: Any]] ?? []).map { $0["function"] as? String ?? "??" }
        }
        return result
    }

    @Test func aCorePipedInAsByTheKernelGivesTheSameStacksAndACapIsSaid() throws {
        let core = try FixtureCore.make()
        defer { core.remove() }
        let oracle = try euStack(arguments: ["--core=" + core.path, "--executable=" + core.executable])
        let whole = try pipe(core)
        #expect(whole["time_unix"] as? Int == 1_700_000_000)
        #expect(Set(functions(whole).keys) == Set(oracle.keys.map(Int.init)) && oracle.count == 3)
        for (tid, theirs) in oracle {
            #expect(functions(whole)[Int(tid)] == theirs.map(\.function), "thread \(tid)")
        }
        let timing = "\(whole["timing"] ?? "")"
        #expect(timing.contains("bytes of core read from the pipe"), "\(timing)")

        // Capped at 64 KiB: the notes survive (signal, every thread), the stacks' memory does not.
        let capped = try pipe(core, extra: ["--max-core-size", "65536"])
        #expect(Set(functions(capped).keys) == Set(oracle.keys.map(Int.init)))
        #expect(((capped["fault"] as? [String: Any])?["signal"] as? [String: Any])?["name"] as? String == "SIGSEGV")
        let problems = "\(capped["problems"] ?? "")"
        #expect(problems.contains("only the first 65536 were kept (--max-core-size)"), "\(problems)")
        #expect(leftoverProcesses().isEmpty, "\(leftoverProcesses())")
    }

    @Test func aFileThatIsNotACoreIsRefusedWithTheReason() throws {
        let directory = makeTemporaryDirectory("invoker-core")
        let (status, messages) = try runInvoker(["core", "--file", "/bin/true", "--log-dir", directory])
        #expect(status == 2, "nothing done: invoker(8) EXIT STATUS")
        #expect(messages.contains("/bin/true is not an ELF core file: its ELF type is not ET_CORE."), "\(messages)")
        let (missing, missingMessages) = try runInvoker(["core", "--file", directory + "/absent", "--log-dir", directory])
        #expect(missing == 2)
        #expect(missingMessages.contains("Cannot open the core file \(directory)/absent: No such file or directory."), "\(missingMessages)")
        #expect(directoryEntries(directory).isEmpty)
        #expect(leftoverProcesses().isEmpty, "\(leftoverProcesses())")
    }
}
