// Triage on the machine, end to end with the real helper and real crashes of the ats-crasher
// fixture: one fingerprint per fault, grouped and counted in the crash store; a crash loop gets
// compact records with the expensive tracers skipped; a rebuild of the fixture (other addresses,
// another build-id) keeps the fingerprint and, once the group is resolved, is a regression; 20
// servers crashing at once are all indexed; a corrupt store or a disabled one costs no report.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport
import TracerKit

/// `invoker list --json` (or another store command) on a report directory, parsed.
func storeJSON(_ command: String, _ directory: String) throws -> [[String: Any]] {
    let (status, output) = try runInvoker([command, "--json", "--log-dir", directory])
    #expect(status == 0, "\(output)")
    return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]], "\(output)")
}

/// The crash fixture compiled again with its functions aligned differently: the same code at
/// other offsets, with another build-id. Named ats-crasher too, as a new build of it would be.
func rebuiltCrasher() throws -> String {
    let path = makeTemporaryDirectory("invoker-rebuild") + "/ats-crasher"
    let fixtures = "/" + #filePath.split(separator: "/").dropLast(2).joined(separator: "/") + "/Fixtures"
    let compiler = try TestProcess("/usr/bin/cc", ["-O0", "-g", "-fno-omit-frame-pointer", "-falign-functions=256", "-D_GNU_SOURCE",
                                                   "-Wl,--build-id", "-I", fixtures + "/ats-crasher-float/include",
                                                   "-I", fixtures + "/ats-handshake/include", "-o", path,
                                                   fixtures + "/ats-crasher/main.c", fixtures + "/ats-crasher-float/float.c",
                                                   fixtures + "/ats-handshake/ats_handshake.c",
                                                   "-lpthread"])
    #expect(compiler.waitForExit() == 0)
    return path
}

@Suite(.serialized, .timeLimit(.minutes(2)),
       .enabled(if: ptraceUnavailableReason() == nil,
                "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct TriageTests {
    @Test func theSameFaultIsOneGroupThatTurnsCompactInALoopAndAnotherFaultIsASecondGroup() throws {
        let directory = makeTemporaryDirectory("invoker-triage")
        let config = try writeConfiguration("""
            [store]
            loop_reports = 2
            [[tracer]]
            use = "unwind"
            [[tracer]]
            name = "expensive"
            exec = ["/bin/echo", "the expensive tracer ran"]
            """)
        for mode in ["segv", "segv", "segv", "segv", "abort"] {
            let run = try CrasherRun.run(payload: "10.2", mode: mode, threads: 2, logDirectory: directory, extra: ["--config", config])
            #expect(run.terminatingSignal == (mode == "segv" ? SIGSEGV : SIGABRT))
        }
        let reports = try storeJSON("list", directory)
        #expect(reports.map { $0["state"] as? String } == ["new", "repeat", "loop", "loop", "new"])
        #expect(reports.map { $0["compact"] as? Bool } == [false, false, true, true, false])
        let segv = try #require(reports.first?["fingerprint"] as? String)
        #expect(segv.hasPrefix("fp1:"))
        #expect(reports.prefix(4).allSatisfy { $0["fingerprint"] as? String == segv })
        #expect(reports.last?["fingerprint"] as? String != segv)
        let groups = try storeJSON("groups", directory)
        #expect(Dictionary(uniqueKeysWithValues: groups.map { ($0["fingerprint"] as! String, $0["count"] as! Int) })
                == [segv: 4, reports[4]["fingerprint"] as! String: 1])
        // Full reports ran the expensive tracer; compact records skipped it, kept the crashing
        // thread only, and are a fraction of the size.
        let texts = reports.map { readFile($0["text_path"] as! String) ?? "" }
        #expect(texts[1].contains("Executing Program `/bin/echo the expensive tracer ran`"))
        #expect(!texts[2].contains("Executing Program"))
        #expect(texts[2].contains("Not run, this crash is in a crash loop: expensive."))
        #expect(texts[2].contains("Occurrence:         loop, crash 3 of this fingerprint, compact record"))
        #expect(texts[2].contains("Fingerprint:        \(segv)"))
        #expect(CrashLog(texts[2]).threads.count == 1)
        #expect(texts[2].contains("Process Status:\n(omitted: a compact record of a crash in a loop)\n"))
        #expect(!texts[2].contains("(unavailable)"))
        #expect(CrashLog(texts[2]).crashingThread?.functions.first == "fixture_crash_segv")
        #expect((reports[2]["bytes"] as! Int) * 2 < (reports[1]["bytes"] as! Int))
        // show: by id, latest, and by fingerprint (its group's latest report).
        #expect(try runInvoker(["show", "2", "--log-dir", directory]).output == texts[1])
        #expect(try runInvoker(["show", "latest", "--log-dir", directory]).output == texts[4])
        #expect(try runInvoker(["show", String(segv.prefix(10)), "--log-dir", directory]).output == texts[3])
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aRebuildKeepsTheFingerprintAndIsARegressionOfAResolvedGroup() throws {
        let directory = makeTemporaryDirectory("invoker-triage")
        let rebuilt = try rebuiltCrasher()
        _ = try CrasherRun.run(payload: "10.2", mode: "segv", threads: 1, logDirectory: directory)
        let first = try #require(try storeJSON("list", directory).first)
        let fingerprint = try #require(first["fingerprint"] as? String)
        let (status, output) = try runInvoker(["resolve", String(fingerprint.prefix(12)), "--log-dir", directory])
        #expect(status == 0 && output.hasPrefix("\(fingerprint): resolved"), "\(output)")
        _ = try CrasherRun.run(payload: "10.2", mode: "segv", threads: 1, logDirectory: directory, crasher: rebuilt)
        let reports = try storeJSON("list", directory)
        #expect(reports.count == 2)
        #expect(reports.map { $0["fingerprint"] as? String } == [fingerprint, fingerprint])
        #expect(reports[1]["state"] as? String == "regression")
        #expect(reports[0]["build_id"] as? String != reports[1]["build_id"] as? String)
        // Other addresses indeed: the faulting frame's offset in its module moved.
        let offsets = try reports.map { report -> String? in
            let data = Data(try #require(readFile(report["json_path"] as! String)).utf8)
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let threads = try #require(json["threads"] as? [[String: Any]])
            return (threads.first { $0["crashed"] as? Bool == true }?["frames"] as? [[String: Any]])?.first?["module_offset"] as? String
        }
        #expect(offsets[0] != nil && offsets[0] != offsets[1], "\(offsets)")
        let text = readFile(reports[1]["text_path"] as! String) ?? ""
        #expect(text.contains("Occurrence:         regression, crash 2 of this fingerprint"))
        let group = try #require(try storeJSON("groups", directory).first)
        #expect(group["state"] as? String == "open")
        #expect((group["versions"] as? [String])?.count == 2)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func twentyServersCrashingAtOnceAreEveryOneIndexed() throws {
        let directory = makeTemporaryDirectory("invoker-triage")
        adoptOrphans()
        let crashers = try (0..<20).map { index in
            try TestProcess(builtProduct("ats-crasher"), [
                "--helper", builtProduct("invoker"), "--payload", "10.2", "--threads", "1", "--mode", "segv",
                "--", "--log-dir", directory,
            ], outputPath: directory + "/output-\(index).txt")
        }
        for crasher in crashers { _ = crasher.waitForExit() }
        reapAllChildren()
        let logs = directoryEntries(directory).filter { $0.hasPrefix("crash-") && $0.hasSuffix(".log") }
        #expect(logs.count == 20)
        let reports = try storeJSON("list", directory)
        #expect(reports.count == 20)
        #expect(Set(reports.map { $0["text_path"] as! String }) == Set(logs.map { directory + "/" + $0 }))
        #expect(try storeJSON("groups", directory).first?["count"] as? Int == 20)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aCorruptStoreCostsNoReportAndRebuildRecovers() throws {
        let directory = makeTemporaryDirectory("invoker-triage")
        try TrafficServerSandbox.write(String(repeating: "not sqlite ", count: 500), to: directory + "/.invoker-store.sqlite")
        _ = try CrasherRun.run(payload: "10.2", mode: "segv", threads: 1, logDirectory: directory)
        let name = try #require(directoryEntries(directory).first { $0.hasPrefix("crash-") && $0.hasSuffix(".log") })
        let log = CrashLog(try #require(readFile(directory + "/" + name)))
        #expect(log.crashingThread?.functions.first == "fixture_crash_segv")
        #expect(log.text.contains("Fingerprint:        fp1:"))
        #expect(log.text.contains("is not invoker's (not a SQLite database)"), "\(log.text)")
        let (status, output) = try runInvoker(["store", "rebuild", "--log-dir", directory])
        #expect(status == 0)
        #expect(output.contains(": 1 reports in 1 groups indexed from 1 JSON reports"), "\(output)")
        #expect(directoryEntries(directory).contains { $0.hasPrefix(".invoker-store.sqlite.broken-") })
        #expect(try storeJSON("list", directory).count == 1)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func notifiersRunAfterTheFinalReportWithReadAccessThroughAGroup() throws {
        let directory = makeTemporaryDirectory("invoker-triage")
        // As a log directory is: others may enter it, and only the group reads the reports.
        chmod(directory, 0o711)
        let outbox = makeTemporaryDirectory("invoker-notify")
        chmod(outbox, 0o777)
        let config = try writeConfiguration("""
            [[tracer]]
            use = "unwind"
            [[tracer]]
            name = "early"
            exec = ["/bin/echo", "an external tracer"]
            [[notify]]
            name = "mail"
            exec = ["/bin/sh", "-c", 'echo "$0 $1" > \(outbox)/args; id -un >> \(outbox)/args; cat "$2" > \(outbox)/report.log', "%n", "%f", "%r"]
            user = "nobody"
            group = "nogroup"
            """)
        _ = try CrasherRun.run(payload: "10.2", mode: "segv", threads: 1, logDirectory: directory, extra: ["--config", config])
        let report = try #require(try storeJSON("list", directory).first)
        let fingerprint = try #require(report["fingerprint"] as? String)
        let args = readFile(outbox + "/args")?.split(separator: "\n").map(String.init)
        #expect(args == ["new \(fingerprint)", "nobody"])
        // The notifier, as nobody in group nogroup, read the final report: with the external
        // tracer's output, which the early report did not have yet.
        let copy = readFile(outbox + "/report.log") ?? ""
        #expect(copy == readFile(report["text_path"] as! String))
        #expect(copy.contains("Executing Program `/bin/echo an external tracer`"))
        #expect(fileMode(report["text_path"] as! String) == 0o440)
        #expect(leftoverProcesses().isEmpty)
    }

    /// A notifier that hangs is stopped at its timeout, with everything it started, and the
    /// next notifier still runs.
    @Test func aHungNotifierIsStoppedAtItsTimeoutAndTheNextOneStillRuns() throws {
        let outbox = makeTemporaryDirectory("invoker-notify")
        let config = try writeConfiguration("""
            [[notify]]
            name = "hangs"
            exec = ["/bin/sh", "-c", "sleep 60; echo late > \(outbox)/late"]
            timeout = 1
            [[notify]]
            name = "after"
            exec = ["/bin/sh", "-c", "cut -d' ' -f19 /proc/$PPID/stat > \(outbox)/nice; echo ran > \(outbox)/after"]
            """)
        let start = Deadline.now()
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", threads: 1, extra: ["--config", config])
        let seconds = Deadline.now().seconds(since: start)
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(readFile(outbox + "/after") == "ran\n")
        // `invoker notify`, exec'd by the child that finished the report after the early
        // release, keeps that child's nice 10 (the server getting its threads back comes first).
        // The notifier programs themselves are started from libdispatch's workers, which set
        // their own priority.
        #expect(readFile(outbox + "/nice") == "10\n")
        #expect(readFile(outbox + "/late") == nil)
        #expect(seconds < 20, "the run took \(seconds) s: the hung notifier (or its sleep) was waited for")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aReportTheStoreMissedIsIndexedByTheNextRun() throws {
        let directory = makeTemporaryDirectory("invoker-triage")
        let off = try writeConfiguration("[store]\nenabled = false\n")
        _ = try CrasherRun.run(payload: "10.2", mode: "segv", threads: 1, logDirectory: directory, extra: ["--config", off])
        #expect(!directoryEntries(directory).contains(".invoker-store.sqlite"))
        _ = try CrasherRun.run(payload: "10.2", mode: "abort", threads: 1, logDirectory: directory)
        let reports = try storeJSON("list", directory)
        // The missed one is picked up after the new one is recorded (both in the same second).
        #expect(Set(reports.compactMap { $0["signal"] as? Int }) == [Int(SIGSEGV), Int(SIGABRT)])
        #expect(reports.count == 2)
        #expect(leftoverProcesses().isEmpty)
    }
}
