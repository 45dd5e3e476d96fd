// A full disk under the log directory: the log directory is a small tmpfs in a mount namespace of
// the test's own (nothing outside sees it; a sleeper keeps the namespace until the test has read
// it, and nsenter runs the crasher in it). With no room for anything, the log goes to standard
// error (Traffic Server's traffic.out) whole; with room for the text log only, the text log is
// written whole and nothing half-written is left (a report file is whole or absent). Either way
// the server dies of its own signal as soon as without a full disk, and nothing is left stopped,
// traced or zombie.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing
import TracerKit

/// A tmpfs of `size` mounted on `directory/logs` in a private mount namespace, kept by a sleeper.
struct SmallFileSystem {
    let keeper: TestProcess
    let logs: String
    var namespace: String { "/proc/\(keeper.pid)/ns/mnt" }

    init(size: String) throws {
        let directory = makeTemporaryDirectory("invoker-fulldisk")
        logs = directory + "/logs"
        mkdir(logs, 0o755)
        keeper = try TestProcess("/usr/bin/unshare", [
            "--mount", "--propagation", "private", "/bin/sh", "-c",
            "mount -t tmpfs -o size=\(size),mode=0755 invoker-test \"$0\" && echo mounted >&3 && exec sleep 120", logs,
        ], outputPath: directory + "/keeper.txt", reportPipe: true)
        guard keeper.readReportLine() == "mounted" else {
            keeper.finish()
            throw TestProcessError(message: "cannot mount a tmpfs in a mount namespace: \(readFile(directory + "/keeper.txt") ?? "")")
        }
    }

    /// Runs `command` in the namespace and returns its standard output.
    func run(_ command: [String]) throws -> String {
        let output = makeTemporaryDirectory("invoker-fulldisk-out") + "/out"
        let process = try TestProcess("/usr/bin/nsenter", ["--mount=\(namespace)", "--"] + command, outputPath: output)
        _ = process.waitForExit(seconds: 30)
        return readFile(output) ?? ""
    }

    /// The files of the log directory, as the namespace sees them, with their contents.
    func files() throws -> [String: String] {
        let listing = try run(["/bin/sh", "-c", "cd \"$0\" && for f in * .*; do [ -f \"$f\" ] && printf '%s\\n' \"$f\"; done", logs])
        var result: [String: String] = [:]
        for name in listing.split(separator: "\n").map(String.init) {
            result[name] = try run(["/bin/cat", logs + "/" + name])
        }
        return result
    }

    func remove() {
        keeper.finish()
    }
}

/// Whether this machine lets root make a mount namespace (a container may not).
func mountNamespaceUnavailableReason() -> String? {
    guard getuid() == 0 else { return "mounting a tmpfs needs root" }
    guard let probe = try? SmallFileSystem(size: "64k") else { return "cannot mount a tmpfs in a private mount namespace here" }
    probe.remove()
    return nil
}

@Suite(.serialized, .timeLimit(.minutes(2)),
       .enabled(if: ptraceUnavailableReason() == nil,
                "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"),
       .enabled(if: mountNamespaceUnavailableReason() == nil, "no mount namespace for a small tmpfs (needs root and CAP_SYS_ADMIN)"))
struct FullDiskTests {
    /// Crashes the fixture with its log directory on `disk`; waits for the helper (an orphan we
    /// adopt) but not for the namespace's keeper.
    func crash(on disk: SmallFileSystem) throws -> (status: Int32, stderr: String, seconds: Double) {
        adoptOrphans()
        let output = makeTemporaryDirectory("invoker-fulldisk-out") + "/crasher.txt"
        let start = Deadline.now()
        let crasher = try TestProcess("/usr/bin/nsenter", [
            "--mount=\(disk.namespace)", "--", builtProduct("ats-crasher"),
            "--helper", builtProduct("invoker"), "--payload", "10.2", "--threads", "3", "--mode", "segv",
            "--", "--log-dir", disk.logs,
        ], outputPath: output)
        let status = crasher.waitForExit()
        let seconds = Deadline.now().seconds(since: start)
        // The helper's child finishes the report after the server died: wait for every child but the keeper.
        _ = waitUntil(seconds: 60) {
            var raw: Int32 = 0
            for child in childProcesses(of: getpid()) where child != disk.keeper.pid {
                _ = waitpid(child, &raw, WNOHANG)
            }
            return childProcesses(of: getpid()).allSatisfy { $0 == disk.keeper.pid }
        }
        return (status, readFile(output) ?? "", seconds)
    }

    @Test func withNoRoomTheLogGoesWholeToStandardError() throws {
        let disk = try SmallFileSystem(size: "8k")
        defer { disk.remove(); reapAllChildren() }
        let run = try crash(on: disk)
        #expect(run.status & 0x7f == SIGSEGV, "the server died of its own signal")
        #expect(run.stderr.contains("invoker: cannot write the crash log to \(disk.logs): "), "\(run.stderr.prefix(600))")
        #expect(run.stderr.contains("ENOSPC (No space left on device); the log follows on standard error"))
        let log = CrashLog(String(run.stderr[(run.stderr.range(of: "Process:")?.lowerBound ?? run.stderr.startIndex)...]))
        #expect(log.crashingThread?.functions.prefix(3) == ["fixture_crash_segv", "fixture_crash_middle", "fixture_crash_outer"])
        #expect(run.stderr.contains("Capture Timing:"), "the whole log, to its last section")
        let files = try disk.files()
        #expect(!files.keys.contains { $0.hasPrefix("crash-") || $0.hasSuffix(".tmp") }, "nothing half-written: \(files.keys.sorted())")
        #expect(run.seconds < 10)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func withRoomForTheTextLogOnlyItIsWrittenWhole() throws {
        let disk = try SmallFileSystem(size: "40k")
        defer { disk.remove(); reapAllChildren() }
        let run = try crash(on: disk)
        #expect(run.status & 0x7f == SIGSEGV, "the server died of its own signal")
        let files = try disk.files()
        let logName = try #require(files.keys.first { $0.hasPrefix("crash-") && $0.hasSuffix(".log") }, "\(files.keys.sorted())")
        let text = files[logName] ?? ""
        #expect(CrashLog(text).crashingThread?.functions.first == "fixture_crash_segv")
        #expect(text.contains("Capture Timing:") && text.hasSuffix("\n"), "the log is whole")
        // The JSON report did not fit here; were it written, it would have to be whole.
        #expect(!files.keys.contains { $0.hasSuffix(".tmp") }, "\(files.keys.sorted())")
        for (name, json) in files where name.hasSuffix(".json") {
            #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil, "\(name) is not whole JSON")
        }
        #expect(run.seconds < 10)
        #expect(leftoverProcesses().isEmpty)
    }
}
