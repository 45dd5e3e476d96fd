// The crash's stopped window on two threads (WindowCompanion): the collectors, the threads'
// names, the module list and the crash guard's report run on a second thread while the main
// thread copies and unwinds, and the report reads as the serial run's did (sections and Capture
// Timing in chain order, every thread named, the modules listed). A crash of that second thread
// is relayed to the thread that holds the target: the server is released and the report written.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
import TracerKit

@Suite(.timeLimit(.minutes(2)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct StoppedWindowTests {
    /// The offsets of `needles` in `text`, nil for one not found.
    static func offsets(of needles: [String], in text: String) -> [String.Index?] {
        needles.map { text.range(of: $0)?.lowerBound }
    }

    /// A collector before the unwinder and one after it: both run on the second thread, their
    /// sections and runs still come in chain order, and the threads keep their names.
    @Test func collectorsAlongsideTheUnwinderKeepTheChainOrder() throws {
        let config = try writeConfiguration("""
            [[tracer]]
            use = "sysstats"
            [[tracer]]
            use = "unwind"
            [[tracer]]
            use = "process"
            """)
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", extra: ["--config", config])
        let log = try #require(run.log, "no report: \(run.output)")
        let text = log.text
        // Sections in chain order: the system's before the process's.
        let sections = Self.offsets(of: ["\nSystem:\n", "\nProcess Details:\n"], in: text)
        #expect(sections.allSatisfy { $0 != nil }, "\(text)")
        if let system = sections[0], let process = sections[1] { #expect(system < process) }
        // Capture Timing: the three stages, in chain order, right after the helper's own line.
        let timing = try #require(text.range(of: "\nCapture Timing:\n")).upperBound
        let runs = text[timing...].split(separator: "\n").dropFirst().prefix(3).map { $0.split(separator: ":").first.map(String.init) ?? "" }
        #expect(runs == ["  sysstats", "  unwind", "  process"])
        #expect(text.contains(" and the crash guard's report on a second thread alongside the copy and the unwinder: "))
        // Names read on the second thread reach the stacks; the modules it listed are there.
        #expect(log.crashingThread?.name == "ats-crasher")
        #expect((0..<3).map { log.threads(named: "worker-\($0)").count } == [1, 1, 1])
        #expect(text.contains("\nLoaded Modules:\n") && text.contains("/ats-crasher\n"))
        #expect(text.contains(" modules listed in "))
        #expect(leftoverProcesses().isEmpty)
    }

    /// invoker crashing on the second thread (in a collector): only the main thread may detach
    /// the server's threads, so the crash is relayed to it; the server is released and dies of
    /// its own signal, and the report pre-rendered on that thread is written with the crash line.
    @Test(arguments: ["segv", "abort"])
    func aCrashOfTheSecondThreadReleasesTheServer(fault: String) throws {
        let run = try FaultServerRun([], environment: ["INVOKER_FAULT_INJECTION": fault + ":process"])
        run.finish()
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log, "no report: \(run.output)")
        #expect(log.text.contains("Segmentation fault"))
        #expect(log.text.contains("CPU Registers"))
        let number = fault == "abort" ? SIGABRT : SIGSEGV
        #expect(log.text.contains("Invoker itself crashed: signal \(number) (SIG\(fault == "abort" ? "ABRT" : "SEGV")) while running the collectors on the second thread"))
        #expect(leftoverProcesses().isEmpty)
    }
}
