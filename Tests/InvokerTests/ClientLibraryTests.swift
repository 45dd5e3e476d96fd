// End to end: libinvoker-client preloaded (LD_PRELOAD) into programs that know nothing of
// invoker: Debian's own python3, and the client-fixture program (Tests/Fixtures/client-fixture).
// Each run starts the built `invoker` as its parked helper; a crash must give one crash report
// with the right stack, the program must still die of its own signal, and nothing may be left
// stopped, traced or zombie.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// One run of a program with libinvoker-client preloaded and the built invoker as its helper.
struct ClientRun {
    let status: Int32
    let pid: Int32
    let directory: String
    /// Standard output and error of the program (and its helper).
    let output: String

    static func run(_ program: String, _ arguments: [String], preload: Bool = true,
                    environment: [String: String] = [:]) throws -> ClientRun {
        let directory = makeTemporaryDirectory("invoker-client")
        adoptOrphans()
        var variables = [
            "INVOKER_HELPER": builtProduct("invoker"),
            "INVOKER_LOG_DIR": directory,
            // The fixtures are linked by swiftc: keep the Swift runtime's own crash handler out.
            "SWIFT_BACKTRACE": "enable=no",
        ]
        if preload { variables["LD_PRELOAD"] = builtProduct("libinvoker-client.so") }
        variables.merge(environment) { $1 }
        let process = try TestProcess(program, arguments, environment: variables,
                                      outputPath: directory + "/output.txt")
        let status = process.waitForExit(seconds: 60)
        // The helper finishes its report after releasing the program (as our subreaper child).
        reapAllChildren(seconds: 60)
        return ClientRun(status: status, pid: process.pid, directory: directory,
                         output: readFile(directory + "/output.txt") ?? "")
    }

    static func fixture(_ mode: String, _ extra: [String] = [], preload: Bool = true,
                        environment: [String: String] = [:]) throws -> ClientRun {
        try run(builtProduct("client-fixture"), [mode] + extra, preload: preload, environment: environment)
    }

    func reports(_ prefix: String) -> [String] {
        directoryEntries(directory).filter { $0.hasPrefix(prefix + "-") && $0.hasSuffix(".log") }
    }

    /// The only crash log, parsed.
    var crashLog: CrashLog? {
        let logs = reports("crash")
        guard logs.count == 1 else { return nil }
        return readFile(directory + "/" + logs[0]).map(CrashLog.init)
    }

    var terminatingSignal: Int32? { (status & 0x7f) != 0 && (status & 0x7f) != 0x7f ? status & 0x7f : nil }
    var exitCode: Int32? { (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil }
}

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct ClientLibraryTests {
    @Test("Debian's python3 reading address 0 through ctypes: the report shows the ctypes and interpreter frames, python3 dies of SIGSEGV; with faulthandler (a handler installed after ours) it prints its traceback first",
          arguments: [[], ["-X", "faulthandler"]])
    func pythonCtypesNullRead(options: [String]) throws {
        let run = try ClientRun.run("/usr/bin/python3", options + ["-c", "import ctypes; ctypes.string_at(0)"])
        #expect(run.terminatingSignal == SIGSEGV, "\(run.output)")
        #expect(run.output.contains("Fatal Python error: Segmentation fault") == !options.isEmpty, "\(run.output)")
        #expect(run.reports("crash").count == 1)
        let log = try #require(run.crashLog)
        #expect(log.text.contains("Process:            python3 [\(run.pid)]"))
        #expect(log.text.contains("null pointer dereference (read of 0x0)"))
        let crashing = try #require(log.crashingThread)
        #expect(crashing.tid == run.pid)
        #expect(crashing.lines.first?.contains("libc.so.6") == true, "\(crashing.lines.prefix(3))")
        #expect(crashing.lines.prefix(4).contains { $0.contains("/_ctypes.cpython-") }, "\(crashing.lines)")
        #expect(crashing.functions.contains("ffi_call"))
        #expect(crashing.functions.contains("_PyEval_EvalFrameDefault"))
        #expect(crashing.functions.contains("Py_BytesMain"))
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("A stack overflow in a thread is caught on that thread's alternate stack")
    func stackOverflowInThread() throws {
        let run = try ClientRun.fixture("thread-overflow")
        #expect(run.terminatingSignal == SIGSEGV, "\(run.output)")
        let log = try #require(run.crashLog)
        #expect(log.text.contains("stack overflow"))
        let crashing = try #require(log.crashingThread)
        #expect(crashing.name == "overflower")
        #expect(Array(crashing.functions.prefix(3)) == Array(repeating: "fixture_client_recurse", count: 3))
        #expect(log.threads(named: "client-fixture").first?.functions.contains("main") == true)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("A failed assert() in a thread: SIGABRT, the asserting thread crashing, the message in the report")
    func assertionInThread() throws {
        let run = try ClientRun.fixture("thread-assert")
        #expect(run.terminatingSignal == SIGABRT, "\(run.output)")
        let log = try #require(run.crashLog)
        #expect(log.text.contains("the queue holds three items"))
        let crashing = try #require(log.crashingThread)
        #expect(crashing.name == "asserter")
        #expect(crashing.functions.containsRun(["fixture_client_assert", "fixture_client_thread_main"]), "\(crashing.lines)")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("A SIGSEGV handler installed before the library: the crash is reported, then that handler runs")
    func handlerInstalledBefore() throws {
        let run = try ClientRun.fixture("handler-before", [builtProduct("libinvoker-client.so")], preload: false)
        #expect(run.output.contains("library loaded\nown handler ran\n"), "\(run.output)")
        #expect(run.terminatingSignal == SIGSEGV)
        let crashing = try #require(run.crashLog?.crashingThread)
        #expect(Array(crashing.functions.prefix(2)) == ["fixture_client_segv", "main"])
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("A handler installed after the library runs first: a fault it handles (a JVM's safepoint page) is not a crash; one it gives up on is reported")
    func handlerInstalledAfter() throws {
        let run = try ClientRun.fixture("handler-after")
        #expect(run.output.contains("""
            sigaction reads back the program's handler
            safepoint handled
            own handler saw a real fault
            """), "\(run.output)")
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(run.reports("crash").count == 1)
        let crashing = try #require(run.crashLog?.crashingThread)
        #expect(Array(crashing.functions.prefix(2)) == ["fixture_client_segv", "main"])
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("A program that waits for all its children does not wait for the helper, which still reports its crash")
    func waitForAllChildren() throws {
        let run = try ClientRun.fixture("wait-all")
        #expect(run.output.contains("all children reaped"), "\(run.output)")
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(run.crashLog?.crashingThread?.functions.first == "fixture_client_segv")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("Debian's python3 waiting for all its children (os.wait until ChildProcessError) does not wait for the helper")
    func pythonWaitsForAllChildren() throws {
        let run = try ClientRun.run("/usr/bin/python3", ["-c", """
            import ctypes, os
            for _ in range(2):
                if os.fork() == 0:
                    os._exit(0)
            reaped = 0
            try:
                while True:
                    os.wait()
                    reaped += 1
            except ChildProcessError:
                print("no more children after", reaped, flush=True)
            ctypes.string_at(0)
            """])
        #expect(run.output.contains("no more children after 2"), "\(run.output)")
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(run.crashLog?.crashingThread?.functions.contains("_PyEval_EvalFrameDefault") == true)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("exec: the new image is armed again (LD_PRELOAD carries the library) and reported under the same pid")
    func execArmsTheNewImage() throws {
        let run = try ClientRun.run("/usr/bin/python3", ["-c", """
            import os
            os.execv("/usr/bin/python3", ["python3", "-c", "import ctypes; ctypes.string_at(0)"])
            """])
        #expect(run.terminatingSignal == SIGSEGV, "\(run.output)")
        #expect(run.reports("crash").count == 1)
        let log = try #require(run.crashLog)
        #expect(log.text.contains("Process:            python3 [\(run.pid)]"))
        #expect(log.crashingThread?.functions.contains("ffi_call") == true)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("A child forked without exec is not reported through its parent's helper; the parent still is")
    func forkWithoutExec() throws {
        let run = try ClientRun.fixture("fork-crash")
        #expect(run.output.contains("child died of signal 11"), "\(run.output)")
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(run.reports("crash").count == 1)
        let log = try #require(run.crashLog)
        #expect(log.text.contains("Process:            client-fixture [\(run.pid)]"))
        #expect(log.crashingThread?.tid == run.pid)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test("invoker_snapshot(reason) and the snapshot signal: live reports with the reason, the program goes on and exits 0")
    func explicitSnapshots() throws {
        let run = try ClientRun.fixture("snapshot", environment: ["INVOKER_SNAPSHOT_SIGNAL": "USR2"])
        #expect(run.exitCode == 0, "\(run.output)")
        #expect(run.output.contains("snapshot returned 0\nafter SIGUSR2\n"), "\(run.output)")
        #expect(run.reports("crash").isEmpty)
        let texts = run.reports("snapshot").compactMap { readFile(run.directory + "/" + $0) }
        #expect(texts.count == 2)
        let explicit = try #require(texts.first { $0.contains("reason:                     watchdog: queue stalled") })
        let signalled = try #require(texts.first { $0.contains("reason:                     signal SIGUSR2 from pid \(run.pid)") })
        for text in [explicit, signalled] {
            let log = CrashLog(text)
            #expect(log.threads(named: "sleeper").first?.functions.containsRun(["fixture_client_sleep", "fixture_client_thread_main"]) == true, "\(text)")
            #expect(log.crashingThread == nil)
        }
        #expect(CrashLog(explicit).threads(named: "client-fixture").first?.functions.containsRun(["fixture_client_watchdog", "main"]) == true)
        let json = try #require(directoryEntries(run.directory).first { $0.hasPrefix("snapshot-") && $0.hasSuffix(".json") })
        let jsonText = try #require(readFile(run.directory + "/" + json))
        #expect(jsonText.contains("\"request\""))
        #expect(try schemaComplaint(reportPath: run.directory + "/" + json) == nil)
        try expectRoundTrip(jsonPath: run.directory + "/" + json)
        #expect(leftoverProcesses().isEmpty)
    }
}
