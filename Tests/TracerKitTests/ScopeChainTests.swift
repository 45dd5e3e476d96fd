// The DWARF scope chain at each pc is walked once per run: the variables tracer (in the stopped
// window) walks it, the symbolizer (after the release) reuses it; and both give the same inline
// levels, the variables reader filling in each level's variables, the symbolizer its name and
// position. On cpp-hang: read <- block <- Box<int>::twice [inlined] <- compute<int> <- main.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
@testable import TracerKit
import Tracers

@Suite(.timeLimit(.minutes(1)), .serialized, .enabled(if: ptraceUnavailableReason() == nil, "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct ScopeChainTests {
    @Test func theSymbolizerReusesTheChainsTheVariablesTracerWalkedAndItsLevelsKeepTheirVariables() throws {
        let program = try TestProcess(builtProduct("cpp-hang"), ["--threads", "1", "--ready-fd", "3"], reportPipe: true)
        defer { program.finish() }
        #expect(program.readReportLine() == "ready \(program.pid)")
        // The main thread says "ready" before it goes into compute(): wait until it reads (0).
        #expect(waitUntil(seconds: 10) { readFile("/proc/\(program.pid)/syscall")?.split(separator: " ").first == "0" })
        let session = try PtraceSession.attach(pid: program.pid, deadline: .after(seconds: 5))
        let snapshot = LiveProcessSnapshot.capture(session: session, fault: nil, vectorRegisters: true)
        let deadline = Deadline.after(seconds: 20)
        let unwind = UnwindTracer()
        let stacks = unwind.capture(snapshot: snapshot, deadline: deadline)
        let variables = VariablesTracer().capture(snapshot: snapshot, stacks: stacks, deadline: deadline)
        session.detach()
        let modules = try #require(snapshot.modules)
        let walked = modules.scopeChainWalks
        #expect(walked >= 4)
        let symbolized = unwind.finish(stacks.attaching(variables), modules: modules, deadline: deadline)
        #expect(modules.scopeChainWalks == walked, "the symbolizer walked \(modules.scopeChainWalks - walked) chains again")

        let frames = try #require(symbolized.threads.first { $0.tid == program.pid }?.frames)
        let compute = try #require(frames.first { $0.function?.hasPrefix("int fixture::deep::compute<int>") == true || $0.function?.hasPrefix("fixture::deep::compute<int>") == true },
                                   "\(frames.map(\.function))")
        #expect(compute.inlined.map(\.function) == ["fixture::deep::Box<int>::twice() const"])
        #expect(compute.inlined.first?.variables.map(\.name) == ["this"])
        // The level is where block() is called in twice(); the physical frame where twice() is.
        #expect(compute.inlined.first?.file?.hasSuffix("cpp-hang/main.cpp") == true && compute.inlined.first?.line == 42 && compute.line == 49)
        #expect(compute.variables.map(\.name).contains("box"))
        #expect(!compute.variables.contains { $0.name == "this" })
        // Formats show the level as a row of its own, above its physical frame.
        let rows = try #require(symbolized.threads.first { $0.tid == program.pid }?.flattenedFrames)
        let twice = try #require(rows.firstIndex { $0.isInlined })
        #expect(rows[twice + 1].function == compute.function && rows[twice].variables.map(\.name) == ["this"])
        program.finish()
        #expect(leftoverProcesses().isEmpty)
    }
}
