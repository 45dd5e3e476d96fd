// End to end: the ats-crasher fixture forks the built `invoker` exactly as Traffic Server forks its
// crash_log_helper, then crashes in a chosen way while speaking a chosen payload version. The log
// must name the signal, put the crashing thread first with the faulting function on top, and show
// every worker's stack; the crasher must die by its signal; nothing may be left stopped, traced or
// zombie.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// One run of the crasher with invoker as its helper.
struct CrasherRun {
    let status: Int32
    /// The crasher's pid (the server's, for the helper).
    let crasherPid: Int32
    let directory: String
    let logs: [String]

    var log: CrashLog? { logs.first.flatMap { readFile(directory + "/" + $0) }.map(CrashLog.init) }

    /// Output (the crasher's and its helper's standard output and error).
    let output: String

    static func run(payload: String = "9", mode: String, threads: Int = 3, logDirectory: String? = nil,
                    extra: [String] = [], environment: [String: String] = [:]) throws -> CrasherRun {
        let directory = makeTemporaryDirectory()
        adoptOrphans()
        let crasher = try TestProcess(builtProduct("ats-crasher"), [
            "--helper", builtProduct("invoker"), "--payload", payload, "--threads", String(threads), "--mode", mode,
            "--", "--log-dir", logDirectory ?? directory,
        ] + extra, environment: environment, outputPath: directory + "/output.txt")
        let status = crasher.waitForExit()
        // A helper outlives its server only when the server died without waiting (die-early);
        // as subreaper we inherit it and wait for it here.
        reapAllChildren()
        return CrasherRun(status: status, crasherPid: crasher.pid, directory: directory,
                          logs: directoryEntries(directory).filter { $0.hasPrefix("crash-") && $0.hasSuffix(".log") },
                          output: readFile(directory + "/output.txt") ?? "")
    }

    var terminatingSignal: Int32? { (status & 0x7f) != 0 && (status & 0x7f) != 0x7f ? status & 0x7f : nil }
    var exitCode: Int32? { (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil }
}

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct ATSHandshakeTests {
    static let workerStack = ["fixture_worker_level_1", "fixture_worker_level_2", "fixture_worker_main"]

    @Test(arguments: ["9", "10.2", "master"])
    func segfaultInEveryPayloadVersion(payload: String) throws {
        let run = try CrasherRun.run(payload: payload, mode: "segv")
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(run.logs.count == 1)
        let log = try #require(run.log)
        #expect(log.text.contains("Segmentation fault"))
        #expect(log.text.contains("SEGV_MAPERR"))
        let crashing = try #require(log.crashingThread)
        // log_layout = "auto": an ATS 9 payload gets 9.x's thread layout, the others ATS 10's.
        if payload == "9" {
            #expect(log.isATS9Layout && log.text.contains("\nThread \(crashing.tid), ats-crasher:\n0    0x"))
        } else {
            #expect(log.text.contains("Other Non-Crashing Threads:"))
            #expect(log.text.contains("Crashing Thread (TID \(crashing.tid), ats-crasher):\n0   0x"))
        }
        #expect(crashing.name == "ats-crasher")
        #expect(Array(crashing.functions.prefix(4)) == ["fixture_crash_segv", "fixture_crash_middle", "fixture_crash_outer", "main"])
        let workers = (0..<3).map { log.threads(named: "worker-\($0)") }
        for worker in workers {
            #expect(worker.count == 1)
            #expect(worker.first?.functions.containsRun(Self.workerStack) == true, "\(worker.first?.lines ?? [])")
        }
        #expect(log.threads.count == 4)
        #expect(fileMode(run.directory + "/" + run.logs[0]) == 0o400)
        // No external tracer: the server was let go before the frames were symbolized.
        #expect(log.text.contains("  the server was released after "))
        #expect(leftoverProcesses().isEmpty)
    }

    @Test(arguments: [
        ("abort", SIGABRT, "Aborted", "fixture_crash_abort"),
        ("bus", SIGBUS, "Bus error", "fixture_crash_bus"),
        ("fpe", SIGFPE, "Floating point exception", "fixture_crash_fpe"),
        ("ill", SIGILL, "Illegal instruction", "fixture_crash_ill"),
    ])
    func otherFatalSignals(mode: String, signal: Int32, text: String, function: String) throws {
        let run = try CrasherRun.run(payload: "10.2", mode: mode)
        #expect(run.terminatingSignal == signal)
        let log = try #require(run.log)
        #expect(log.text.contains(text))
        let crashing = try #require(log.crashingThread)
        // abort() raises inside libc: the fixture's function is a few frames down, not on top.
        let index = try #require(crashing.functions.firstIndex(of: function), "\(crashing.lines)")
        #expect(Array(crashing.functions[index...].prefix(3)) == [function, "fixture_crash_middle", "fixture_crash_outer"])
        if mode != "abort" { #expect(index == 0) }
        #expect(leftoverProcesses().isEmpty)
    }

    @Test(arguments: ["clean", "parent-exit"])
    func cleanShutdownWritesNothing(mode: String) throws {
        let run = try CrasherRun.run(payload: "master", mode: mode)
        #expect(run.exitCode == 0)
        #expect(run.logs.isEmpty)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func garbagePayloadStillCapturesStacks() throws {
        let run = try CrasherRun.run(payload: "9", mode: "garbage")
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log)
        #expect(log.text.contains("No target signal information"))
        #expect(log.text.contains("The crash payload is truncated: 200 bytes"))
        // The crashing thread is still found: it is the one waiting for the helper.
        #expect(log.crashingThread?.functions.contains("fixture_crash_segv") == true)
        #expect(log.threads.count == 4)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func truncatedPayloadIsReportedAndCaptured() throws {
        let run = try CrasherRun.run(payload: "10.2", mode: "truncated")
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log)
        #expect(log.text.contains("The crash payload is truncated: 64 bytes"))
        #expect(log.text.contains("No target signal information"))
        #expect(log.crashingThread?.functions.contains("fixture_crash_segv") == true)
        #expect(log.threads.count == 4)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func unreadableStackEndsThatStackWithAReason() throws {
        let run = try CrasherRun.run(payload: "10.2", mode: "bad-stack")
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log)
        let damaged = try #require(log.threads(named: "worker-0").first)
        // libc's read (with its inlined body), then the two levels whose frames are readable.
        #expect(Array(damaged.functions.suffix(2)) == ["fixture_worker_level_1", "fixture_worker_level_2"], "\(damaged.lines)")
        #expect(!damaged.functions.contains("fixture_worker_main"))
        #expect(log.text.contains("[stack ends: the caller's frame cannot be read: cannot read 8 bytes of target memory at 0x"))
        // The other threads are whole.
        #expect(log.threads(named: "worker-1").first?.functions.containsRun(Self.workerStack) == true)
        #expect(Array(log.crashingThread?.functions.prefix(2) ?? []) == ["fixture_crash_segv", "fixture_crash_middle"])
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func unwritableLogDirectoryFallsBackToStandardError() throws {
        let run = try CrasherRun.run(payload: "master", mode: "segv", logDirectory: "/proc/invoker-no-such-dir")
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(run.logs.isEmpty)
        // The whole log is on the helper's standard error (and in syslog), with the reason first.
        #expect(run.output.contains("cannot write the crash log to /proc/invoker-no-such-dir"))
        let log = CrashLog(run.output)
        #expect(log.crashingThread?.functions.first == "fixture_crash_segv")
        #expect(log.text.contains("Other Non-Crashing Threads:"))
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func targetThatDiesDuringTheAttachStillGetsALog() throws {
        let run = try CrasherRun.run(payload: "master", mode: "die-early")
        #expect(run.exitCode == 42)
        // The helper may have caught some threads or none; either way a log explains what happened.
        let log = try #require(run.log)
        #expect(log.text.contains("Segmentation fault"))
        #expect(leftoverProcesses().isEmpty)
    }
}
