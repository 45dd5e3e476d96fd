// The variables tracer (opt-in, `use = "variables"`): the crashing thread's parameters and locals
// with their values at -O0, in the text log and the JSON report.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct VariablesTests {
    @Test func crashingFramesShowTheirLocals() throws {
        let config = try writeConfiguration("[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nuse = \"variables\"\n")
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", extra: ["--config", config])
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log)
        let text = log.text
        // fixture_crash_segv: the pointer it wrote through, flagged, and its int.
        #expect(text.contains("      fixture_null = 0x0  [points at the faulting address 0x0]  (volatile int *)"))
        #expect(text.contains("      fixture_value = 42  (int)"))
        // fixture_crash_middle and fixture_crash_outer: an int and a C string each level.
        #expect(text.contains("      fixture_depth = 2  (int)"))
        #expect(text.range(of: #"      fixture_label = 0x[0-9a-f]+ "middle"  \(const char \*\)"#, options: .regularExpression) != nil)
        #expect(text.contains("      fixture_depth = 1  (int)"))
        // main's parameters, and glibc's __libc_start_call_main's (optimized; they live at the
        // frame's CFA - 152, which needs the caller's stack pointer): the same argc.
        let occurrences = text.matches(of: /\ +argc = ([0-9]+)  \(parameter, int\)/).map { String($0.1) }
        #expect(occurrences.count >= 2 && Set(occurrences).count == 1, "\(occurrences)")
        #expect(text.contains("      main = 0x"))
        let json = try #require(directoryEntries(run.directory).first { $0.hasSuffix(".json") })
        let data = try #require(readFile(run.directory + "/" + json)).data(using: .utf8)!
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let crashed = try #require((report["threads"] as? [[String: Any]])?.first { $0["crashed"] as? Bool == true })
        let top = try #require((crashed["frames"] as? [[String: Any]])?.first)
        let variables = top["variables"] as? [[String: Any]] ?? []
        #expect(variables.map { $0["name"] as? String } == ["fixture_null", "fixture_value"])
        try expectRoundTrip(jsonPath: run.directory + "/" + json)
        #expect(variables.last?["value"] as? String == "42")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func floatingPointRegistersAtTheFaultComeFromTheSignalContext() throws {
        // fixture_crash_float is built at -O2 (Tests/Fixtures/ats-crasher-float): both doubles are
        // only in xmm registers when the store faults, saved by the kernel with the signal
        // context; the fixture's handler then overwrites every xmm register. First the premise,
        // from the binary's DWARF as gdb reads it: no stack slot to fall back on.
        let directory = makeTemporaryDirectory()
        let gdb = try TestProcess("/usr/bin/gdb", ["-batch", "-nx", "-ex", "info scope fixture_crash_float", builtProduct("ats-crasher")],
                                  outputPath: directory + "/scope.txt")
        #expect(gdb.waitForExit() == 0)
        let scope = readFile(directory + "/scope.txt") ?? ""
        #expect(scope.contains("Symbol ratio is a variable in $xmm"), "\(scope)")
        #expect(scope.contains("Symbol scaled is") && scope.contains("a variable in $xmm"), "\(scope)")
        #expect(!scope.contains("frame base"), "\(scope)")
        let config = try writeConfiguration("[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nuse = \"variables\"\n")
        let run = try CrasherRun.run(payload: "10.2", mode: "float", extra: ["--config", config])
        #expect(run.terminatingSignal == SIGSEGV)
        let log = try #require(run.log)
        #expect(log.crashingThread?.functions.first == "fixture_crash_float")
        let lines = log.text.split(separator: "\n").map(String.init)
        let frame = try #require(lines.firstIndex { $0.hasPrefix("0 ") && $0.contains(" fixture_crash_float + ") })
        #expect(Array(lines[(frame + 1)...].prefix(2)) == ["      ratio = 2.5  (parameter, double)", "      scaled = 10  (double)"],
                "\(log.text)")
        #expect(leftoverProcesses().isEmpty)
    }
}
