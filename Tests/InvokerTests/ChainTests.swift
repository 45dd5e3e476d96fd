// The tracer chain as an operator configures it: built-ins then external programs, placeholders
// replaced with the real pid, tid and signal, each program bounded by its timeout, failures
// reported and the policy applied; gdb can attach once the built-ins have released the target;
// backtrace-invoker's command line; check-config; live snapshots.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
import TracerKit

/// Writes a configuration file (root-owned, mode 0600, as invoker requires when run as root).
func writeConfiguration(_ text: String) throws -> String {
    let path = makeTemporaryDirectory("invoker-conf") + "/invoker.conf"
    try TrafficServerSandbox.write(text, to: path)
    chmod(path, 0o600)
    return path
}

/// "Executing Program `…`:" sections of a log: command → (output, closing status line).
func executedPrograms(_ text: String) -> [(command: String, output: [String], status: String)] {
    var result: [(String, [String], String)] = []
    var current: (String, [String])? = nil
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        if line.hasPrefix("Executing Program `"), line.hasSuffix("`:") {
            current = (String(line.dropFirst("Executing Program `".count).dropLast(2)), [])
        } else if let open = current {
            // The closing line invoker adds: "[NAME: exited with status 0, after 0.004 s]".
            let isStatus = line.hasPrefix("[") && line.hasSuffix(" s]")
                && ["exited", "failed", "timed out", "could not run"].contains { line.contains(": \($0)") }
            if isStatus {
                result.append((open.0, open.1, line))
                current = nil
            } else {
                // Output lines are indented by two spaces (nothing a program prints starts a line).
                current!.1.append(line.hasPrefix("  ") ? String(line.dropFirst(2)) : line)
            }
        }
    }
    return result
}

/// Crashes the C fixture (ATS 10.2 payload, segv) under a chain of the unwinder and `tracers`
/// (TOML `[[tracer]]` tables); its run and its crash log.
func crashWithUnwindAnd(_ tracers: String, environment: [String: String] = [:]) throws -> (run: CrasherRun, log: CrashLog) {
    let config = try writeConfiguration("[[tracer]]\nuse = \"unwind\"\n" + tracers)
    let run = try CrasherRun.run(payload: "10.2", mode: "segv", extra: ["--config", config], environment: environment)
    return (run, try #require(run.log))
}

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct ChainTests {
    @Test func builtinThenThreeExternalsWithPlaceholders() throws {
        let config = try writeConfiguration("""
            [[tracer]]
            use = "unwind"

            [[tracer]]
            name = "ids"
            exec = ["/bin/echo", "pid=%p", "tid=%t", "signal=%s", "exe=%e", "100%%"]

            [[tracer]]
            name = "environment"
            exec = ["/usr/bin/env"]
            env = { INVOKER_TEST_MARK = "chain" }

            [[tracer]]
            name = "directory"
            exec = ["/bin/pwd"]
            cwd = "/usr/share"
            """)
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", extra: ["--config", config])
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log)
        let crashing = try #require(log.crashingThread)
        let pid = try #require(log.text.split(separator: "\n").first.flatMap { $0.split(separator: "[").last?.dropLast() })
        let programs = executedPrograms(log.text)
        #expect(programs.map(\.command) == [
            "/bin/echo pid=\(pid) tid=\(crashing.tid) signal=11 exe=\(builtProduct("ats-crasher")) 100%", "/usr/bin/env", "/bin/pwd",
        ])
        #expect(programs[0].output == ["pid=\(pid) tid=\(crashing.tid) signal=11 exe=\(builtProduct("ats-crasher")) 100%"])
        #expect(programs[0].status.hasPrefix("[ids: exited with status 0, after "))
        #expect(programs[1].output.contains("INVOKER_TEST_MARK=chain"))
        #expect(programs[2].output == ["/usr/share"])
        // The built-in ran first: the stacks are there.
        #expect(crashing.functions.first == "fixture_crash_segv")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func hangingCrashingAndMissingTracersAreReportedAndTheChainGoesOn() throws {
        let config = try writeConfiguration("""
            deadline = 30

            [[tracer]]
            name = "hang"
            exec = ["/bin/sleep", "600"]
            timeout = 1

            [[tracer]]
            name = "crash"
            exec = ["/bin/sh", "-c", "kill -SEGV $$"]

            [[tracer]]
            name = "missing"
            exec = ["/nonexistent/tracer", "%p"]

            [[tracer]]
            name = "last"
            exec = ["/bin/echo", "still ran"]
            """)
        let run = try CrasherRun.run(payload: "master", mode: "segv", extra: ["--config", config])
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log)
        let programs = executedPrograms(log.text)
        #expect(programs.count == 4)
        #expect(programs[0].status.hasPrefix("[hang: timed out after 1 s: its process group was sent SIGTERM, then SIGKILL"))
        #expect(programs[1].status.hasPrefix("[crash: failed: killed by SIGSEGV (Segmentation fault)"))
        #expect(programs[2].status.hasPrefix("[missing: could not run /nonexistent/tracer:"))
        #expect(programs[3].output == ["still ran"])
        // Bounded: the 600 s sleeper was cut at its 1 s timeout.
        let total = try #require(log.text.split(separator: "\n").first { $0.hasPrefix("  invoker: ") })
        let seconds = try #require(Double(total.dropFirst("  invoker: ".count).split(separator: " ").first ?? ""))
        #expect(seconds < 10)
        // The timed-out program's process group was killed: no "sleep 600" survives, orphaned.
        let survivors = ProcFile.numericEntries(of: "/proc").filter {
            readFile("/proc/\($0)/cmdline")?.split(separator: "\0").map(String.init) == ["/bin/sleep", "600"]
        }
        #expect(survivors.isEmpty, "still running: \(survivors)")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func earlyReleaseCanBeTurnedOff() throws {
        let config = try writeConfiguration("early_release = false\n")
        let run = try CrasherRun.run(payload: "9", mode: "segv", extra: ["--config", config])
        let log = try #require(run.log)
        #expect(!log.text.contains("the server was released after"))
        #expect(log.crashingThread?.functions.first == "fixture_crash_segv")
    }

    @Test func stopPolicySkipsTheRestButWritesTheReport() throws {
        let config = try writeConfiguration("""
            failure_policy = "stop"
            [[tracer]]
            use = "unwind"
            [[tracer]]
            exec = ["/bin/false"]
            [[tracer]]
            exec = ["/bin/echo", "must not run"]
            """)
        let run = try CrasherRun.run(payload: "9", mode: "segv", extra: ["--config", config])
        let log = try #require(run.log)
        #expect(executedPrograms(log.text).map(\.command) == ["/bin/false"])
        #expect(log.text.contains("Not run, failure_policy is \"stop\" and false failed: echo."))
        #expect(log.crashingThread?.functions.first == "fixture_crash_segv")
    }

    @Test func externalTracersStartWithDefaultSignals() throws {
        // Nothing blocked and nothing ignored (not even glibc's own signals 32 and 33, which
        // posix_spawn leaves ignored): gdb waits for SIGCHLD, and hung until its timeout when it
        // started with the spawning thread's mask.
        let (_, log) = try crashWithUnwindAnd("""
            [[tracer]]
            name = "signals"
            exec = ["/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
            """)
        #expect(executedPrograms(log.text).first?.output == ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"])
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aTracerThatLeavesTheServerStoppedIsUndone() throws {
        // kill -STOP stands for a gdb or gcore killed at its timeout while the server's threads
        // were in its SIGSTOP: the server must still finish dying.
        let (run, log) = try crashWithUnwindAnd("""
            [[tracer]]
            name = "stopper"
            exec = ["/bin/kill", "-STOP", "%p"]
            [[tracer]]
            name = "after"
            exec = ["/bin/echo", "still running"]
            """)
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(log.text.contains("Tracer stopper left the server stopped (job control) when it ended (exited with status 0); invoker sent it SIGCONT."),
                "\(log.text)")
        #expect(executedPrograms(log.text).map(\.command) == ["/bin/kill -STOP \(run.crasherPid)", "/bin/echo still running"])
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func gdbAttachesAfterTheBuiltinsReleasedTheTarget() throws {
        let (run, log) = try crashWithUnwindAnd("""
            [[tracer]]
            name = "gdb"
            exec = ["/usr/bin/gdb", "-batch", "-nx", "-p", "%p", "-ex", "thread apply all bt"]
            timeout = 60
            """)
        #expect(run.terminatingSignal == SIGSEGV)
        let gdb = try #require(executedPrograms(log.text).first)
        #expect(gdb.status.hasPrefix("[gdb: exited with status 0"))
        let output = gdb.output.joined(separator: "\n")
        #expect(output.contains("in fixture_crash_segv () at"), "\(output)")
        #expect(output.contains("fixture_worker_level_1"))
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func backtraceInvokerCommandLine() throws {
        let sleeper = try TestProcess("/bin/sleep", ["30"])
        defer { sleeper.finish() }
        #expect(sleeper.waitUntilSleeping())
        let directory = makeTemporaryDirectory()
        // -p target, two -t tracers with %p, INVOKER_TRACER appended after them, -P pid file.
        let (status, output) = try runInvoker(
            ["-p", String(sleeper.pid), "-t", "/bin/echo first %p", "-t", "/bin/echo second", "-d",
             "-P", directory + "/invoker.pid"],
            environment: ["INVOKER_TRACER": "/bin/echo third"])
        #expect(status == 0)
        #expect(executedPrograms(output).map(\.command) == ["/bin/echo first \(sleeper.pid)", "/bin/echo second", "/bin/echo third"])
        #expect(readFile(directory + "/invoker.pid").flatMap { Int32($0.trimmingWhitespace()) } != nil)
        #expect(sleeper.tracer == 0)
        let (tooMany, message) = try runInvoker(["-p", String(sleeper.pid), "-d"] + Array(repeating: ["-t", "/bin/true"], count: 17).flatMap { $0 })
        #expect(tooMany == 0, "a bad -t list must not stop the helper")
        #expect(message.contains("17 tracers given; at most 16 are accepted; the rest are ignored"))
        // The report says so too, where the reader of the log looks.
        #expect(message.contains("Capture Problems:\n  - command line: --tracer: 17 tracers given; at most 16 are accepted; the rest are ignored.\n"))
        sleeper.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func noATSCompatibilityIgnoresThePayload() throws {
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", extra: ["-n"])
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log)
        #expect(log.text.contains("No target signal information"))
        // Without the payload the crashing thread is unknown: every thread is listed as a thread.
        #expect(log.crashingThread == nil)
        #expect(log.threads.count == 4)
        // The main thread is unwound from where it waits, in its signal handler: through the
        // trampoline, marked, to the faulting function with its exact line.
        let main = try #require(log.threads(named: "ats-crasher").first)
        #expect(main.functions.containsRun(["fixture_crash_handler", "__restore_rt", "fixture_crash_segv", "fixture_crash_middle"]), "\(main.lines)")
        #expect(main.lines.contains { $0.contains("__restore_rt + 0x0 [signal frame]") })
        let json = try #require(directoryEntries(run.directory).first { $0.hasSuffix(".json") })
        let text = try #require(readFile(run.directory + "/" + json))
        #expect(text.contains("\"recovery\": \"signal-context\""))
    }

    @Test func checkConfigCommand() throws {
        let good = try writeConfiguration("[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nexec = [\"/bin/true\"]\n")
        let (okStatus, okOutput) = try runInvoker(["check-config", good])
        #expect(okStatus == 0)
        #expect(okOutput.contains("\(good): OK"))
        #expect(okOutput.contains("tracers, in order: unwind; true (/bin/true, timeout 30.0 s, runs as the user Traffic Server passes with --user, else as invoker's own user)"))
        let bad = try writeConfiguration("[[tracer]]\nexec = [\"/bin/true\"]\ntimeout = 0\n")
        let (badStatus, badOutput) = try runInvoker(["check-config", bad])
        #expect(badStatus == 1)
        #expect(badOutput.contains("\(bad):3: tracer[1].timeout: must be a positive number of seconds"))
        chmod(good, 0o666)
        let (looseStatus, looseOutput) = try runInvoker(["check-config", good])
        #expect(looseStatus == 1)
        #expect(looseOutput.contains("refusing \(good): running as root, a configuration must be owned by root and not writable by group or others (owner uid 0, mode 666)"))
        // A tracer program others can change is refused too, with its line.
        let program = makeTemporaryDirectory() + "/tracer"
        try TrafficServerSandbox.write("#!/bin/sh\necho hi\n", to: program)
        chmod(program, 0o777)
        let risky = try writeConfiguration("[[tracer]]\nuse = \"unwind\"\n\n[[tracer]]\nexec = [\"\(program)\"]\n")
        let (riskyStatus, riskyOutput) = try runInvoker(["check-config", risky])
        #expect(riskyStatus == 1)
        #expect(riskyOutput.contains("\(risky):5: tracer[2].exec: refusing \(program): running as root, a tracer must be owned by root and not writable by group or others (owner uid 0, mode 777)"))
    }

    @Test func liveSnapshotLeavesTheProcessRunningAndUntraced() throws {
        let directory = makeTemporaryDirectory()
        adoptOrphans()
        let target = try TestProcess(builtProduct("ats-crasher"), [
            "--helper", builtProduct("invoker"), "--mode", "hang", "--ready-fd", "3", "--", "--log-dir", directory,
        ], reportPipe: true)
        defer { target.finish(); reapAllChildren() }
        // Block until the fixture says its helper is parked and its workers are in place.
        let line = target.readReportLine() ?? ""
        #expect(line.hasPrefix("ready \(target.pid) "))
        // --output is made if it is not there; success is news at info level, not an error.
        let output = directory + "/snapshots/today"
        let (status, said) = try runInvoker(["snapshot", "--pid", String(target.pid), "--output", output])
        #expect(status == 0, "\(said)")
        #expect(said.contains(" info invoker: [Invoker] wrote snapshot report to \(output)/snapshot-"), "\(said)")
        #expect(!said.contains(" error "), "\(said)")
        let reports = directoryEntries(output).filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".log") }
        #expect(reports.count == 1)
        let log = CrashLog(try #require(reports.first.flatMap { readFile(output + "/" + $0) }))
        #expect(log.text.contains("\nNo target signal information: a snapshot of a running process (invoker snapshot), not a crash\n"))
        #expect(log.threads.count == 4)
        let main = try #require(log.threads(named: "ats-crasher").first)
        #expect(main.functions.containsRun(["fixture_hang", "fixture_crash_middle", "fixture_crash_outer", "main"]), "\(main.lines)")
        #expect(log.text.contains("  freeze: "))
        #expect(log.text.contains("  stopped 4 threads 16 at a time (1 batch), each batch released once its registers and stacks were copied\n"))
        // Every thread's stack was copied while its batch of threads was frozen (a page at least
        // each), so each batch is a consistent picture even though the process ran on.
        let copied = log.text.firstMatch(of: /registers, maps and ([0-9]+) KiB of stacks copied in/).flatMap { Int($0.1) }
        #expect((copied ?? 0) >= 4 * 4, "\(String(describing: copied))")
        // The process goes on, untraced.
        #expect(target.state != "t" && target.state != "T" && target.tracer == 0)
        #expect(target.status == nil)
        target.finish()
        reapAllChildren()
        #expect(leftoverProcesses().isEmpty)
    }

    /// `formats` decides which files a crash gives: each format alone writes only its own, and a
    /// tracer's %r names the report that exists.
    @Test(arguments: [("json", ".json", ".log"), ("text", ".log", ".json")])
    func formatsWriteOnlyTheirOwnFiles(format: String, written: String, absent: String) throws {
        let config = try writeConfiguration("""
            formats = ["\(format)"]
            [[tracer]]
            use = "unwind"
            [[tracer]]
            name = "where"
            exec = ["/bin/ls", "%r"]
            """)
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", extra: ["--config", config])
        #expect(run.terminatingSignal == SIGSEGV)
        let files = directoryEntries(run.directory).filter { $0.hasPrefix("crash-") }
        #expect(files.count == 1 && files.allSatisfy { $0.hasSuffix(written) }, "\(files)")
        #expect(!files.contains { $0.hasSuffix(absent) })
        let report = try #require(files.first.flatMap { readFile(run.directory + "/" + $0) })
        // The tracer ran with the path of the file that was written.
        #expect(report.contains(run.directory + "/" + files[0]), "\(report.prefix(3000))")
        #expect(leftoverProcesses().isEmpty)
    }
}
