// The text log cannot be forged: control characters in untrusted text become visible escapes,
// and an external tracer's output is indented.

import Testing
import TracerKit
@testable import Invoker

@Suite(.timeLimit(.minutes(1))) struct LogEscapingTests {
    @Test func controlCharactersAreEscaped() {
        #expect("worker\nCrashing Thread (TID 1, x):".escapedForLog == "worker\\nCrashing Thread (TID 1, x):")
        #expect("\u{1B}[2Jcleared\r\u{07}".escapedForLog == "\\e[2Jcleared\\r\\x07")
        #expect("tab\tstays, é and 漢字 too".escapedForLog == "tab\tstays, é and 漢字 too")
        #expect("\u{2028}\u{202E}\u{85}".escapedForLog == "\\u{2028}\\u{202e}\\x85")
    }

    /// Plain ASCII text is cut into lines on its bytes; anything else by Character, with escapes.
    /// Both give the same lines: none empty at the end, an empty text none at all.
    @Test(arguments: [
        ("", ""), ("a", "> a\n"), ("a\n", "> a\n"), ("a\n\n", "> a\n> \n"), ("\n", "> \n"),
        ("Name:\tx\nPid: 1\n", "> Name:\tx\n> Pid: 1\n"),
        ("é\nb", "> é\n> b\n"), ("a\r\nb\n", "> a\\r\\nb\n"), ("x\u{1B}\ny", "> x\\e\n> y\n"),
    ])
    func linesAreIndentedAndEscapedWhateverTheText(text: String, lines: String) {
        #expect(text.escapedLines(indent: "> ") == lines)
    }

    @Test func everyUntrustedFieldOfTheTextLogIsEscaped() {
        var report = CrashReport(pid: 42, executable: "/srv/bin/server\nSignal Status:", commandLine: ["server"],
                                 hostTriplet: nil, time: 0, fault: nil)
        report.processName = "srv\nFile: forged"
        report.threads = [ThreadReport(tid: 42, name: "t\nCrashing Thread (TID 1, forged):", isCrashing: false, registers: nil,
                                       frames: [Frame(index: 0, pc: 0x1000, stackPointer: 0, recovery: .stopped)])]
        report.threads[0].frames[0].symbol.function = "f\nSignal Status:"
        report.sections = [ReportSection(id: "process", title: "Process Details",
                                         fields: [Field("environment", .list(["X=1\nSignal Status:"]))])]
        report.tracerRuns = [TracerRun(name: "t", command: ["/bin/echo"], seconds: 0, exitStatus: 0, outcome: "exited with status 0",
                                       output: "Signal Status:\nCrashing Thread (TID 9, forged):\n\u{1B}[31mred\n")]
        report.problems = ["p\nCapture Problems:"]
        let text = CrashLogWriter(report: report, helperVersion: "test").render()
        let lines = text.split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.hasPrefix("Signal Status:") || $0.hasPrefix("Crashing Thread") || $0.hasPrefix("File: forged") })
        #expect(!text.contains("\u{1B}"))
        #expect(lines.contains("  Signal Status:"))
        #expect(lines.contains("  \\e[31mred"))
        #expect(lines.contains("Thread (TID 42, t\\nCrashing Thread (TID 1, forged):):"))
    }
}
