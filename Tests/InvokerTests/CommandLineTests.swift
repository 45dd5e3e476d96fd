// The command line as operators use it: traffic_crashlog's and backtrace-invoker's options, a
// capture of a live process with --target, and the EPERM message when another tracer holds it.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
import TracerKit

/// Runs the built invoker with `arguments`; returns its exit status and combined output.
/// With `launcher`, that program is started with `arguments` instead (e.g. setpriv … invoker …).
func runInvoker(_ arguments: [String], environment: [String: String] = [:],
                launcher: String? = nil) throws -> (status: Int32, output: String) {
    let directory = makeTemporaryDirectory()
    let process = try TestProcess(launcher ?? builtProduct("invoker"), arguments, environment: environment,
                                  outputPath: directory + "/output.txt")
    let status = process.waitForExit()
    return ((status >> 8) & 0xff, readFile(directory + "/output.txt") ?? "")
}

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct CommandLineTests {
    @Test(.enabled(if: getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root and setpriv to run as other users"))
    func epermExplanationNamesTheIdsTheKernelCompares() throws {
        // The target runs as nobody; the helper as uid 102 (real and effective), without
        // capabilities: the kernel compares the real uid, and no effective uid 0 can be regained.
        let target = try TestProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sleep", "30"])
        defer { target.finish() }
        #expect(target.waitUntilSleeping())
        let (_, output) = try runInvoker(["--reuid=102", "--regid=105", "--clear-groups",
                                          builtProduct("invoker"), "-p", String(target.pid), "-d", "-n"],
                                         launcher: "/usr/bin/setpriv")
        #expect(output.contains("Cannot attach to thread \(target.pid) of process \(target.pid): EPERM — the target runs as uid 65534, we run as uid 102 and without CAP_SYS_PTRACE in effect (the kernel compares the real uid)"), "\(output)")
        target.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    /// invoker(8)'s EXIT STATUS: 0 every stack, 1 a report without some stacks, 2 no report file.
    @Test func exitStatusSaysHowMuchWasCaptured() throws {
        let target = try TestProcess("/bin/sleep", ["30"])
        defer { target.finish() }
        #expect(target.waitUntilSleeping())
        let directory = makeTemporaryDirectory()
        #expect(try runInvoker(["snapshot", "--pid", String(target.pid), "--output", directory]).status == 0)
        // Held by another tracer, its one thread cannot be stopped: a report, without its stack.
        let holder = try PtraceSession.attach(pid: target.pid, deadline: .after(seconds: 5))
        let partial = makeTemporaryDirectory()
        let (status, output) = try runInvoker(["snapshot", "--pid", String(target.pid), "--output", partial])
        holder.detach()
        #expect(status == 1, "\(output)")
        #expect(directoryEntries(partial).contains { $0.hasPrefix("snapshot-") && $0.hasSuffix(".log") })
        // A directory it cannot write: nothing done.
        let nothing = try runInvoker(["snapshot", "--pid", String(target.pid), "--output", "/proc/self"])
        #expect(nothing.status == 2, "\(nothing.output)")
        target.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    /// Every one-shot command refuses a bad configuration the same way: its sentence, status 2.
    @Test(arguments: [["snapshot", "--pid", "1"], ["send"], ["list"], ["core", "--file", "/nonexistent"]])
    func aBadConfigurationEndsACommandWithItsSentence(command: [String]) throws {
        let config = try writeConfiguration("deadlin = 5\n")
        let (status, output) = try runInvoker(command + ["--config", config])
        #expect(status == 2, "\(output)")
        #expect(output.contains("invoker: \(config):1: deadlin: unknown setting (did you mean `deadline`?)"), "\(output)")
    }

    @Test func helpShowsTheHelpersOptions() throws {
        let (status, output) = try runInvoker(["--help"])
        #expect(status == 0)
        #expect(output.contains("SUBCOMMANDS:") && output.contains("check-config"))
        for option in ["--syslog", "--wait", "--host <host>", "--user <user>", "--target <target>", "--config <config>", "--log-dir <log-dir>"] {
            #expect(output.contains(option), "\(option) is not in invoker --help")
        }
    }

    @Test func targetCaptureOfALiveProcessLeavesItRunning() throws {
        let sleeper = try TestProcess("/bin/sleep", ["30"])
        defer { sleeper.finish() }
        #expect(sleeper.waitUntilSleeping())
        let (status, output) = try runInvoker(["--target", String(sleeper.pid), "--debug"])
        #expect(status == 0)
        let log = CrashLog(output)
        #expect(log.text.hasPrefix("Process:            sleep [\(sleeper.pid)]"))
        #expect(log.text.contains("No target signal information"))
        #expect(log.threads.count == 1)
        // /bin/sleep is stripped: its own frames are <unknown>, libc's are named.
        #expect(log.threads.first?.functions.contains("__libc_start_call_main") == true, "\(log.threads.first?.lines ?? [])")
        #expect(sleeper.state != "t" && sleeper.tracer == 0)
        sleeper.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func anotherTracerGetsAnActionableMessage() throws {
        let sleeper = try TestProcess("/bin/sleep", ["30"])
        defer { sleeper.finish() }
        let holder = try PtraceSession.attach(pid: sleeper.pid, deadline: .after(seconds: 5))
        let (status, output) = try runInvoker(["--target", String(sleeper.pid), "--debug"])
        holder.detach()
        #expect(status == 1, "a report without the stacks is done in part (invoker(8) EXIT STATUS)")
        #expect(output.contains("Cannot attach to thread \(sleeper.pid) of process \(sleeper.pid): EPERM — process"))
        #expect(output.contains("is already tracing it; only one tracer at a time."))
        // The report is still written, with what could be had without the attach.
        #expect(output.contains("Process Status:"))
        sleeper.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func unknownOptionsNeverStopTheHelper() throws {
        let (status, output) = try runInvoker(["--version", "--some-future-ats-option", "x"])
        #expect(status == 0)
        #expect(output.contains("invoker "))
        // Started by a server with options of a newer Traffic Server, it still parks and logs.
        let run = try CrasherRun.run(payload: "master", mode: "segv",
                                     extra: ["--some-future-ats-option", "x", "--another-flag"])
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(run.log?.crashingThread?.functions.first == "fixture_crash_segv")
    }
}
