// The variables tracer against gdb on the same stopped process: the C and C++ fixtures of
// Tests/Fixtures/variables built at -O0 and -O2, every parameter and local of the fixture's own
// frames, and the globals. At -O0 every name and value equals gdb's; at -O2 every value we print
// equals gdb's, and the places where only one side has a value are counted and printed. Then the
// limits (print elements and depth, as gdb's), the corrupt and huge structures the fixtures plant,
// and the byte and time budgets.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct VariablesOracleTests {
    static let c = "Tests/Fixtures/variables/vars.c"
    static let cpp = "Tests/Fixtures/variables/vars.cpp"
    static let cGlobals = ["vars_counter", "vars_banner", "vars_origin", "vars_tls_counter", "errno"]

    /// Both views of `fixture`, compared on the fixture's own frames (and on the globals).
    func compare(_ fixture: VariablesFixture, limits: PrintLimits = PrintLimits(), globals: [String] = [],
                 programFrames expectedFrames: Int = 4) throws -> (comparison: VariableComparison, ours: OurVariables) {
        let program = try fixture.start()
        defer { program.finish() }
        let ours = try OurVariables(program.pid, globals: globals, limits: limits)
        let gdb = try gdbVariables(program.pid, frames: ours.frames.count, globals: globals, limits: limits)
        program.finish()
        #expect(leftoverProcesses().isEmpty)
        var comparison = VariableComparison()
        var programFrames = 0
        for (index, frame) in ours.frames.enumerated() where frame.file?.hasSuffix("/" + fixture.fileName) == true {
            programFrames += 1
            guard index < gdb.frames.count else {
                Issue.record("gdb has no frame \(index) (\(frame.function))")
                continue
            }
            let theirs = gdb.frames[index]
            #expect(theirs.function == frame.function, "frame \(index): ours \(frame.function) gdb \(theirs.function)")
            comparison.compare(frame.parameters, theirs.parameters, at: "#\(index) \(frame.function) args")
            comparison.compare(frame.locals, theirs.locals, at: "#\(index) \(frame.function) locals")
        }
        #expect(programFrames >= expectedFrames, "\(ours.frames.map(\.function))")
        comparison.compare(ours.globals, gdb.globals, at: "globals")
        // Whatever the fixture plants (cycles, a 100000-byte string without its NUL, a 400000-byte
        // array, a vector with garbage pointers), every value stays within the limits.
        for value in ours.values {
            #expect(value.utf8.count < 16 * limits.elements + 2048, "an unbounded value: \(value.prefix(200))…")
        }
        #expect(try schemaComplaint(reportPath: ours.jsonPath) == nil)
        print("variables oracle \(fixture.fileName) -\(fixture.level) (\(limits)): \(comparison.compared) values equal to gdb's, "
              + "\(comparison.missed.count) only gdb has\(comparison.missed.isEmpty ? "" : " \(comparison.missed)"), "
              + "\(comparison.onlyOurs.count) only we have\(comparison.onlyOurs.isEmpty ? "" : " \(comparison.onlyOurs)")")
        return (comparison, ours)
    }

    /// The same variables in the same order, the same values, none that gdb has and we lack, and
    /// at least `count` values compared.
    func expectAgreement(_ comparison: VariableComparison, atLeast count: Int) {
        #expect(comparison.listMismatches.isEmpty, "\(comparison.listMismatches)")
        #expect(comparison.disagreements.isEmpty, "\(comparison.disagreements)")
        #expect(comparison.missed.isEmpty, "gdb has values we say are optimized out or unavailable: \(comparison.missed)")
        #expect(comparison.compared >= count, "\(comparison.compared)")
    }

    @Test(arguments: ["O0", "O2"])
    func cFixtureAgreesWithGdb(level: String) throws {
        let (comparison, ours) = try compare(VariablesFixture(source: Self.c, level: level), globals: Self.cGlobals)
        expectAgreement(comparison, atLeast: level == "O0" ? 50 : 40)
        // What the fixture's header promises, whatever gdb says.
        let outer = try #require(ours.frames.first { $0.function == "vars_outer" })
        let locals = outer.localValues
        #expect(locals["shape"] == "{origin = {x = -4, y = 9}, scale = 1.25, color = GREEN, tag = 83 'S', flags = 5, kind = 17}")
        #expect(locals["grid"] == "{{1, 2, 3}, {4, 5, 6}}")
        #expect(locals["color"] == "BLUE")
        #expect(locals["ratio"] == "0.10000000000000001")
        #expect(locals["zeros"] == "{0 <repeats 16 times>}")
        #expect(outer.parameters.first { $0.name == "label" }?.value?.hasSuffix(" \"outer label\"") == true)
        let middle = try #require(ours.frames.first { $0.function == "vars_middle" })
        let middleLocals = middle.localValues
        #expect(middleLocals["null_pointer"] == "0x0")
        #expect(middleLocals["wild"] == "0x10 <error: Cannot access memory at address 0x10>")
        #expect(middleLocals["unterminated"]??.hasSuffix(" 'x' <repeats 200 times>...") == true)
        #expect(middleLocals["callback"]??.hasSuffix(" <vars_callback>") == true)
        // Thread-local ones as the main thread has them: the program's, and the C library's errno.
        #expect(ours.globals == [SeenVariable(name: "vars_counter", value: "7"),
                                 SeenVariable(name: "vars_banner", value: ours.globals[1].value),
                                 SeenVariable(name: "vars_origin", value: "{x = 100, y = 200}"),
                                 SeenVariable(name: "vars_tls_counter", value: "12"),
                                 SeenVariable(name: "errno", value: "9")])
        #expect(ours.globals[1].value?.hasSuffix(" \"invoker\"") == true)
        // -O2 keeps vars_registers' parameters only as their values on entry: recovered from the
        // caller's call site, as gdb's seed@entry.
        let registers = try #require(ours.frames.first { $0.function == "vars_registers" })
        #expect(registers.parameters.first { $0.name == "seed" }?.value == "12")
        // The frame of the function inlined into vars_leaf has its own parameters and locals.
        let inlined = try #require(ours.frames.first { $0.function == "vars_inlined" })
        #expect(inlined.parameters.first { $0.name == "factor" }?.value == "3")
        #expect(inlined.locals.first { $0.name == "scaled" }?.value == "9")
        #expect(!(ours.frames.first { $0.function == "vars_leaf" }?.locals.contains { $0.name == "scaled" } ?? true))
        // Its pointer parameter: a real one at -O0; at -O2 the compiler keeps only what it points
        // to (DW_OP_implicit_pointer), which gdb calls a synthetic pointer. Either way, -> {7, -8}.
        let whereValue = try #require(inlined.parameters.first { $0.name == "where" }?.value)
        #expect(level == "O2" ? whereValue == "<synthetic pointer>" : whereValue.hasPrefix("0x"), "\(whereValue)")
        let frames = (ours.report["threads"] as? [[String: Any]])?.first { $0["tid"] as? Int == ours.pid }?["frames"] as? [[String: Any]] ?? []
        let whereEntry = frames.first { $0["function"] as? String == "vars_inlined" }.flatMap { frame in
            (frame["variables"] as? [[String: Any]])?.first { $0["name"] as? String == "where" }
        }
        #expect(whereEntry?["pointee"] as? String == "{x = 7, y = -8}", "\(String(describing: whereEntry))")
        // main's argc at -O2 likewise, from __libc_start_call_main's call site (gdb 13 says
        // <optimized out>): the fixture runs with two arguments.
        let main = try #require(ours.frames.first { $0.function == "main" })
        #expect(main.parameters.first { $0.name == "argc" }?.value == "3")
    }

    @Test(arguments: ["O0", "O2"])
    func cppFixtureAgreesWithGdb(level: String) throws {
        // At -O2 g++ makes main's call of build a tail call: main is not on the stack.
        let (comparison, ours) = try compare(VariablesFixture(source: Self.cpp, level: level),
                                             programFrames: level == "O0" ? 4 : 3)
        expectAgreement(comparison, atLeast: 15)
        // _start (crt1.o) has no DWARF: libdwfl's arange look-up names the unit before it, and
        // once gave it a line of vars.cpp; a unit that does not hold the pc is not used.
        #expect(ours.frames.last { $0.function == "_start" }?.file == nil, "\(ours.frames.map { ($0.function, $0.file) })")
        let build = try #require(ours.frames.first { $0.function == "fixture::build" })
        let locals = build.localValues
        #expect(locals["greeting"] == "\"hello\"")
        #expect(locals["numbers"] == "std::vector of length 6, capacity 8 = {1, 1, 2, 3, 5, 8}")
        #expect(locals["words"] == "std::vector of length 2, capacity 2 = {\"alpha\", \"beta\"}")
        #expect(locals["mode"] == "fixture::Mode::Fast")
        // gdb's printer reads through the garbage and fails; we say what is wrong and read nothing.
        #expect(locals["broken"] == "<corrupt std::vector: _M_start 0x10, _M_finish 0x8, _M_end_of_storage 0x4>")
        let inspect = try #require(ours.frames.first { $0.function == "fixture::inspect" })
        #expect(inspect.parameters.map(\.name) == ["name", "counter", "values", "shape"])
        #expect(inspect.parameters.first?.value == "\"hello\"")
        #expect(inspect.parameters[1].value?.hasSuffix(": 41") == true)
    }

    /// The innermost frame's floating-point values: at -O2 in xmm registers (PTRACE_GETFPREGS),
    /// and the parameters as entry values of typed registers, from main's call site.
    @Test(arguments: ["O0", "O2"])
    func floatingPointValuesOfTheInnermostFrameAgreeWithGdb(level: String) throws {
        let fixture = VariablesFixture(source: Self.c, level: level, arguments: ["--spin"])
        let (comparison, ours) = try compare(fixture, programFrames: 2)
        expectAgreement(comparison, atLeast: 4)
        let spin = try #require(ours.frames.first)
        #expect(spin.function == "vars_spin")
        #expect(spin.parameters == [SeenVariable(name: "rate", value: "1.5"), SeenVariable(name: "scale", value: "0.25")])
        #expect(spin.locals == [SeenVariable(name: "doubled", value: "3"), SeenVariable(name: "quarter", value: "0.0625")])
    }

    @Test func printLimitsAgreeWithGdb() throws {
        let limits = PrintLimits(elements: 5, depth: 1)
        let (comparison, ours) = try compare(VariablesFixture(source: Self.c, level: "O0"), limits: limits, globals: Self.cGlobals)
        expectAgreement(comparison, atLeast: 50)
        let outer = try #require(ours.frames.first { $0.function == "vars_outer" })
        #expect(outer.locals.first { $0.name == "primes" }?.value == "{2, 3, 5, 7, 11...}")
        #expect(outer.locals.first { $0.name == "shape" }?.value?.hasPrefix("{origin = {...}, scale = 1.25") == true)
        #expect(outer.locals.first { $0.name == "grid" }?.value == "{{...}, {...}}")
        #expect(outer.locals.first { $0.name == "name" }?.value == "\"outer\"...")
    }

    /// The configuration's budgets end the tracer early, with a sentence saying which and how to
    /// see more; the report is written all the same.
    @Test(arguments: [("max_total_bytes = 4096", "the 4096-byte budget"), ("timeout = 0.000001", "the time budget")])
    func budgetsEndTheTracerEarlyAndSaySo(setting: String, reason: String) throws {
        let program = try VariablesFixture(source: Self.c, level: "O0").start()
        defer { program.finish() }
        let ours = try OurVariables(program.pid, globals: Self.cGlobals, limits: PrintLimits(), extra: setting)
        program.finish()
        let problems = ours.report["problems"] as? [String] ?? []
        #expect(problems.contains { $0.hasPrefix("variables: stopped early, \(reason) is spent") && $0.contains("raise max_total_bytes or timeout") },
                "\(problems)")
        // The stacks are all there; the globals say why they have no value.
        #expect(ours.frames.map(\.function).contains("vars_outer"))
        let notes = ((ours.report["threads"] as? [[String: Any]])?.first?["frames"] as? [[String: Any]] ?? [])
            .flatMap { $0["variables"] as? [[String: Any]] ?? [] }.compactMap { $0["note"] as? String }
        #expect(ours.globals.allSatisfy { $0.value == nil })
        #expect(ours.text.contains("vars_counter = <not read: \(reason) is spent>"), "\(ours.text)")
        if reason.hasPrefix("the 4096") {
            // Some values came before the budget ran out, and the first refused read says so.
            #expect(!ours.values.isEmpty)
            #expect(notes.contains("not read: \(reason) is spent"), "\(notes)")
        } else {
            #expect(ours.values.isEmpty && notes.isEmpty)
        }
        #expect(leftoverProcesses().isEmpty)
    }
}
