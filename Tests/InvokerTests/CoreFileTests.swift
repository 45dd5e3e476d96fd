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

/// A core of the core-crasher fixture, made by the kernel in a directory of its own; with a
/// witness, the pid of a process that shares the crashed one's memory (see the fixture's
/// --witness): its /proc/PID is what a core_pattern pipe helper reads while the kernel waits.
struct FixtureCore {
    let directory: String
    let pid: Int32
    let path: String
    var witness: Int32? = nil
    let executable = builtProduct("core-crasher")

    static func make(witness: Bool = false) throws -> FixtureCore {
        let directory = makeTemporaryDirectory("invoker-core")
        let executable = builtProduct("core-crasher")
        // posix_spawn cannot set limits: the shell raises RLIMIT_CORE, then becomes the fixture,
        // started by a short relative name so its secret argument fits in NT_PRPSINFO's 80 bytes.
        mkdir(directory + "/bin", 0o755)
        symlink(executable, directory + "/bin/core-crasher")
        let process = try TestProcess("/bin/sh", ["-c", "cd \"$1\" && ulimit -c unlimited && exec bin/core-crasher --token s3cret-value \"$2\"",
                                                  "sh", directory, witness ? "--witness" : "--"],
                                      environment: ["SWIFT_BACKTRACE": "enable=no"], outputPath: directory + "/output.txt")
        let status = process.waitForExit(seconds: 60)
        #expect(status & 0x7f == SIGSEGV, "the fixture should die of SIGSEGV, wait status \(status)")
        #expect(status & 0x80 != 0, "the kernel should have dumped a core (wait status \(status))")
        let prefix = String(corePattern.prefix { $0 != "%" })
        let name = try #require(directoryEntries(directory).first { $0.hasPrefix(prefix) },
                                "no core named \(corePattern) in \(directory): \(directoryEntries(directory))")
        var core = FixtureCore(directory: directory, pid: process.pid, path: directory + "/" + name)
        if witness {
            let printed: String = (readFile(directory + "/output.txt") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            core.witness = try #require(Int32(printed), "the fixture prints its witness's pid: \(printed)")
        }
        return core
    }

    func remove() {
        unlink(path)
        if let witness {
            kill(witness, SIGKILL)
            _ = waitpid(witness, nil, 0)
        }
    }
}

@Suite(.timeLimit(.minutes(2)), .serialized, .enabled(if: corePatternProblem == nil, "\(corePatternProblem ?? "")"))
struct CoreFileTests {
    @Test func aKernelCoreGivesTheCrashReportWithEuStacksStacks() throws {
        let core = try FixtureCore.make()
        defer { core.remove() }
        let output = core.directory + "/reports"
        mkdir(output, 0o755)
        // The variables tracer reads the core's memory as it reads a live process's.
        let config = try writeConfiguration("[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nuse = \"variables\"\nglobals = [\"never_written\"]\n")
        let (status, messages) = try runInvoker(["core", "--file", core.path, "--exe", core.executable, "--log-dir", output,
                                                 "--config", config])
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
        let ours = Self.frames(report)
        let crashing = (report["threads"] as? [[String: Any]] ?? []).filter { $0["crashed"] as? Bool == true }
            .map { Int32($0["tid"] as? Int ?? -1) }
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
        #expect(text.contains("CPU Registers:\nR8 :0x") && !text.contains("No target CPU registers"))
        #expect(text.contains("      nothing = 0x0  [points at the faulting address 0x0]  (volatile int *)"))
        #expect(text.contains("      argc = 4  (parameter, int)"), "core-crasher --token s3cret-value --")
        // String literals: read-only file pages the kernel does not dump, read from the module's file.
        #expect(text.range(of: #"names = \{0x[0-9a-f]+ "core-worker-1", 0x[0-9a-f]+ "core-worker-2"\}"#, options: .regularExpression) != nil)
        #expect(text.range(of: #"  never_written = \{[0-9]+, [0-9]+\}  \(int \[2\]"#, options: .regularExpression) != nil)
        #expect(text.contains("(not a live process: no collectors, external tracers, thread names or process status)"))
        // The command line from NT_PRPSINFO, its secret redacted as in every report.
        let process = try #require(report["process"] as? [String: Any])
        #expect("\(process)".contains("bin/core-crasher") && "\(process)".contains("--token"), "\(process)")
        #expect(!text.contains("s3cret-value") && !"\(report)".contains("s3cret-value"))
        // A crash like any other: fingerprinted and in the crash store.
        #expect(text.contains("Fingerprint:        fp1:") && text.contains("Occurrence:         new, crash 1 of this fingerprint"))
        let (listed, list) = try runInvoker(["list", "--log-dir", output])
        #expect(listed == 0 && list.contains("core-crasher  SIGSEGV  null-dereference  fp1:"), "\(list)")
        #expect(leftoverProcesses().isEmpty, "\(leftoverProcesses())")
    }

    /// `invoker core PID TID 11 1700000000` with the core on a pipe, as kernel.core_pattern
    /// `|invoker core %P %i %s %t` runs it: the output directory and the report's JSON, parsed.
    func pipe(_ core: FixtureCore, pid: Int32, configuration: String, time: Int = 1_700_000_000,
              into directory: String? = nil) throws -> (String, [String: Any]) {
        let output = directory ?? makeTemporaryDirectory("invoker-core-pipe")
        let config = try writeConfiguration(configuration)
        let script = "core=$1 invoker=$2 output=$3; shift 3; cat \"$core\" | \"$invoker\" core --log-dir \"$output\" \"$@\""
        let process = try TestProcess("/bin/sh", ["-c", script, "sh", core.path, builtProduct("invoker"), output,
                                                  "--config", config, String(pid), String(core.pid), "11", String(time)],
                                      outputPath: output + ".txt")
        #expect(process.waitForExit(seconds: 60) == 0, "\(readFile(output + ".txt") ?? "")")
        let names = directoryEntries(output)
        let jsonName = try #require(names.sorted().last { $0.hasPrefix("crash-") && $0.hasSuffix(".json") }, "\(names)")
        #expect(!names.contains { $0.hasSuffix(".tmp") }, "the temporary core is removed: \(names)")
        let data = try #require(readFile(output + "/" + jsonName)).data(using: .utf8)!
        return (output, try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
    }

    /// Each thread's frames in a report, as eu-stack -s -i prints them (function, file:line).
    static func frames(_ report: [String: Any]) -> [Int32: [OracleFrame]] {
        var result: [Int32: [OracleFrame]] = [:]
        for thread in report["threads"] as? [[String: Any]] ?? [] {
            result[Int32(thread["tid"] as? Int ?? -1)] = (thread["frames"] as? [[String: Any]] ?? []).map { frame in
                let file = frame["file"] as? String, line = frame["line"] as? Int
                return OracleFrame(function: frame["function"] as? String ?? "??",
                                   location: file.flatMap { file in line.map { "\(file):\($0)" } })
            }
        }
        return result
    }

    /// The gunzipped bytes of `path`.
    func gunzip(_ path: String) throws -> Data {
        let output = makeTemporaryDirectory("invoker-gunzip") + "/core"
        let process = try TestProcess("/bin/sh", ["-c", "gzip -dc \"$1\" > \"$2\"", "sh", path, output])
        #expect(process.waitForExit(seconds: 60) == 0)
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    @Test func aCorePipedWhileItsProcessIsDumpingIsReadFromTheProcessByEveryBuiltin() throws {
        let core = try FixtureCore.make(witness: true)
        defer { core.remove() }
        let witness = try #require(core.witness)
        let oracle = try euStack(arguments: ["--core=" + core.path, "--executable=" + core.executable])
        let chain = ["unwind", "variables", "process", "sysstats"].map { "[[tracer]]\nuse = \"\($0)\"\n" }.joined()
        let (output, report) = try pipe(core, pid: witness, configuration: "keep_core = true\n" + chain)
        #expect(report["time_unix"] as? Int == 1_700_000_000)
        let timing = "\(report["timing"] ?? "")"
        #expect(timing.contains("read from process \(witness) while the kernel piped its core"), "\(timing)")
        // The same stacks as eu-stack's on the core, unwound from the live memory.
        let ours = Self.frames(report)
        #expect(Set(ours.keys) == Set(oracle.keys) && oracle.count == 3)
        for (tid, theirs) in oracle {
            #expect(ours[tid] == theirs, "thread \(tid): ours \(ours[tid] ?? []) eu-stack \(theirs)")
        }
        let fault = try #require(report["fault"] as? [String: Any])
        #expect(fault["crashing_thread"] as? Int == Int(core.pid))
        #expect((fault["classification"] as? [String: Any])?["kind"] as? String == "null-dereference")
        // The variables tracer: the crashing frame's NULL pointer; the collectors' sections.
        let crashed = try #require((report["threads"] as? [[String: Any]])?.first { $0["crashed"] as? Bool == true })
        let top = try #require((crashed["frames"] as? [[String: Any]])?.first)
        let variables = top["variables"] as? [[String: Any]] ?? []
        #expect(variables.first?["name"] as? String == "nothing" && variables.first?["value"] as? String == "0x0", "\(variables)")
        let sections = "\(report["sections"] ?? "")"
        #expect(sections.contains("Process Details") && sections.contains("System"), "\(sections)")
        // The text log prints the crashing thread's registers.
        let textName = try #require(directoryEntries(output).first { $0.hasSuffix(".log") })
        let text = readFile(output + "/" + textName) ?? ""
        #expect(text.contains("CPU Registers:\nR8 :0x") && text.contains("RIP:0x"), "\(text.prefix(1500))")
        #expect(text.contains("Crashing Thread (TID \(core.pid), core-crasher):\n0   0x"))
        #expect(text.contains("      nothing = 0x0  [points at the faulting address 0x0]  (volatile int *)"))
        // keep_core: the whole core, gzip-compressed, beside the report, mode 0600.
        let keptName = try #require(directoryEntries(output).first { $0.hasSuffix(".core.gz") })
        var info = stat()
        #expect(stat(output + "/" + keptName, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try gunzip(output + "/" + keptName) == Data(contentsOf: URL(fileURLWithPath: core.path)))
        #expect(leftoverProcesses().isEmpty, "\(leftoverProcesses())")
    }

    @Test func aCorePipedAfterItsProcessIsGoneIsUnwoundFromItsOwnStacks() throws {
        let core = try FixtureCore.make()
        defer { core.remove() }
        let oracle = try euStack(arguments: ["--core=" + core.path, "--executable=" + core.executable])
        let chain = ["unwind", "variables"].map { "[[tracer]]\nuse = \"\($0)\"\n" }.joined()
        let (output, report) = try pipe(core, pid: core.pid, configuration: "keep_core = true\nkeep_core_limit = 65536\n" + chain)
        let ours = Self.frames(report)
        #expect(Set(ours.keys) == Set(oracle.keys) && oracle.count == 3)
        for (tid, theirs) in oracle {
            #expect(ours[tid] == theirs, "thread \(tid): ours \(ours[tid] ?? []) eu-stack \(theirs)")
        }
        let timing = "\(report["timing"] ?? "")"
        #expect(timing.contains("process \(core.pid) being gone"), "\(timing)")
        // Variables on the kept stacks: the crashing frame's NULL pointer.
        let crashed = try #require((report["threads"] as? [[String: Any]])?.first { $0["crashed"] as? Bool == true })
        let top = try #require((crashed["frames"] as? [[String: Any]])?.first)
        let variables = top["variables"] as? [[String: Any]] ?? []
        #expect(variables.first?["name"] as? String == "nothing" && variables.first?["value"] as? String == "0x0", "\(variables)")
        // The sparse copy holds the stacks and small segments only, not the whole core.
        var info = stat()
        #expect(stat(core.path, &info) == 0)
        let kept = try #require(timing.firstMatch(of: /([0-9]+) bytes of the core \(its notes, stacks and small segments\)/).map { UInt64($0.1)! })
        #expect(kept > 0 && kept < UInt64(info.st_size) / 2, "\(kept) of \(info.st_size)")
        // keep_core_limit: the first 64 KiB of the core, and the report says so.
        let keptName = try #require(directoryEntries(output).first { $0.hasSuffix(".core.gz") })
        #expect(try gunzip(output + "/" + keptName) == Data(contentsOf: URL(fileURLWithPath: core.path)).prefix(65536))
        #expect("\(report["problems"] ?? "")".contains("holds its first 65536 of \(info.st_size) bytes (keep_core_limit)"))
        // retention = 1: the next core's report prunes this one, its kept core with it.
        _ = try pipe(core, pid: core.pid, configuration: "retention = 1\nkeep_core = true\nkeep_core_limit = 65536\n",
                     time: 1_700_000_100, into: output)
        #expect(directoryEntries(output).filter { $0.hasPrefix("crash-") }.sorted()
                == ["crash-2023-11-14-221500.core.gz", "crash-2023-11-14-221500.json", "crash-2023-11-14-221500.log"])
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
        // On the pipe: a program, and nothing at all.
        for (input, sentence) in [("/bin/true", "Standard input is not an ELF core: its ELF type is not ET_CORE."),
                                  ("/dev/null", "Standard input is not an ELF core: it ends after 0 bytes, inside its headers.")] {
            let process = try TestProcess("/bin/sh", ["-c", "exec \"$1\" core --log-dir \"$2\" 1 1 11 0 < \"$3\"", "sh",
                                                      builtProduct("invoker"), directory, input], outputPath: directory + ".txt")
            #expect(process.waitForExit(seconds: 60) >> 8 == 2, "nothing done")
            #expect((readFile(directory + ".txt") ?? "").contains(sentence), "\(readFile(directory + ".txt") ?? "")")
        }
        #expect(directoryEntries(directory).isEmpty)
        #expect(leftoverProcesses().isEmpty, "\(leftoverProcesses())")
    }
}
