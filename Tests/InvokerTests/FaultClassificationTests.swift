// Fault classification, end to end: each kind of fault produced by the fixture is named right in
// the text log and the JSON report, with its evidence.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct FaultClassificationTests {
    @Test(arguments: [
        ("segv", SIGSEGV, "null-dereference", "null pointer dereference (write of 0x0)", "the page-fault error code 0x6 says the access was a write"),
        ("overflow", SIGSEGV, "stack-overflow", "stack overflow (write of 0x", "below [stack]"),
        ("readonly", SIGSEGV, "write-to-read-only-memory", "write to read-only memory at 0x", "is in a r-xp mapping of"),
        ("exec", SIGSEGV, "execute-non-executable-memory", "execution of non-executable memory at 0x", "the access was an instruction fetch"),
        ("unmapped", SIGSEGV, "unmapped-address", "write of unmapped address 0xdead0000000", "0xdead0000000 is not in any mapping of the process"),
        ("assert", SIGABRT, "assertion-failure", "assertion failed: ats-crasher: ", "Assertion `fixture_count == 4 && \"the count of widgets\"' failed."),
        ("abort", SIGABRT, "abort", "abort() called (no message left by the C library)", "SI_TKILL"),
        ("bus", SIGBUS, "bus-error", "bus error: access to 0x", "is in a mapping of /tmp/ats-crasher-bus."),
        ("fpe", SIGFPE, "divide-by-zero", "division by zero at 0x", "FPE_INTDIV"),
        ("ill", SIGILL, "illegal-instruction", "illegal instruction at 0x", "SIGILL with ILL_"),
        ("trap", SIGTRAP, "breakpoint-or-trap", "breakpoint or trap at 0x", "SIGTRAP with SI_KERNEL"),
    ])
    func faultIsClassifiedWithEvidence(mode: String, signal: Int32, kind: String, summary: String, evidence: String) throws {
        let run = try CrasherRun.run(payload: "10.2", mode: mode)
        #expect(run.terminatingSignal == signal)
        let log = try #require(run.log)
        let faultLine = try #require(log.text.split(separator: "\n").first { $0.hasPrefix("Fault:") })
        #expect(faultLine.dropFirst(20).hasPrefix(summary), "\(faultLine)")
        #expect(log.text.contains(evidence))
        let json = try #require(directoryEntries(run.directory).first { $0.hasSuffix(".json") })
        let data = try #require(readFile(run.directory + "/" + json)).data(using: .utf8)!
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let classification = (report["fault"] as? [String: Any])?["classification"] as? [String: Any]
        #expect(classification?["kind"] as? String == kind)
        #expect((classification?["evidence"] as? [String])?.contains { $0.contains(evidence) } == true)
        let crashing = try #require(log.crashingThread)
        if mode == "overflow" {
            // Unbounded recursion: the stack is cut at the frame limit, and says so.
            #expect(crashing.functions.count == 256 && Set(crashing.functions) == ["fixture_recurse"])
            #expect(log.text.contains("[stack ends: stopped after 256 frames]"))
        } else {
            // The crash site is on the crashing stack (under libc's frames for an abort).
            #expect(crashing.functions.contains("fixture_crash_middle"))
        }
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func sigabrtSentWithKillIsSentNotAbort() throws {
        let directory = makeTemporaryDirectory()
        adoptOrphans()
        let target = try TestProcess(builtProduct("ats-crasher"), [
            "--helper", builtProduct("invoker"), "--payload", "10.2", "--mode", "hang", "--ready-fd", "3", "--", "--log-dir", directory,
        ], reportPipe: true)
        defer { target.finish(); reapAllChildren() }
        #expect(target.readReportLine()?.hasPrefix("ready \(target.pid) ") == true)
        // kill(2) from this process: si_code SI_USER, si_pid ours; abort() would be SI_TKILL from its own pid.
        target.send(SIGABRT)
        #expect(target.waitForExit() & 0x7f == SIGABRT)
        reapAllChildren()
        let log = try #require(directoryEntries(directory).first { $0.hasSuffix(".log") }.flatMap { readFile(directory + "/" + $0) })
        let me = readFile("/proc/self/comm")?.trimmingWhitespace() ?? "?"
        #expect(log.contains("\nFault:              SIGABRT sent by process \(getpid()) (\(me))\n"), "\(log)")
        #expect(!log.contains("abort() called"))
        #expect(leftoverProcesses().isEmpty)
    }
}
