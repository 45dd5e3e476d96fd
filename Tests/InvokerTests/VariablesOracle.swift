// VariablesOracle: the variables fixtures built here with gcc or g++ at a chosen optimization
// level, and the two views of one stopped fixture's variables that the tests compare: gdb's
// `info args` / `info locals` (and `print` of globals), and the JSON report of `invoker snapshot`.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

/// A variable as one side sees it: its name and value, nil when that side has none (optimized
/// out, unavailable, unreadable).
struct SeenVariable: Equatable, CustomStringConvertible {
    var name: String
    var value: String?
    var description: String { name + " = " + (value ?? "<none>") }
}

/// One frame's variables as one side sees it.
struct SeenFrame {
    /// The function's name without its parameter list ("fixture::inspect").
    var function: String
    var file: String?
    var parameters: [SeenVariable] = []
    var locals: [SeenVariable] = []

    /// The locals by name (the first of a name, as a reader of the report would find it).
    var localValues: [String: String?] { Dictionary(locals.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }) }
}

/// gdb's print limits, mirrored by the variables tracer's settings.
struct PrintLimits: CustomStringConvertible {
    var elements = 200
    var depth = 8
    var description: String { "elements \(elements), depth \(depth)" }
}

/// A fixture of Tests/Fixtures/variables compiled here, and started.
struct VariablesFixture {
    let source: String
    let level: String
    /// Arguments besides --ready-fd (vars.c's --spin).
    var arguments: [String] = []

    var isCPlusPlus: Bool { source.hasSuffix(".cpp") }
    var fileName: String { String(source.split(separator: "/").last ?? "") }

    /// Compiles the fixture with `-g -<level>` and starts it; returns once it is blocked in read.
    func start() throws -> TestProcess {
        let directory = makeTemporaryDirectory("invoker-vars")
        let binary = directory + "/" + (isCPlusPlus ? "variables-cpp" : "variables")
        let compiler = isCPlusPlus ? "/usr/bin/g++" : "/usr/bin/gcc"
        let build = try TestProcess(compiler, ["-g", "-" + level, "-Wall", "-o", binary, packageRoot + "/" + source],
                                    outputPath: directory + "/build.txt")
        try #require(build.waitForExit() == 0, "\(readFile(directory + "/build.txt") ?? "")")
        let program = try TestProcess(binary, ["--ready-fd", "3"] + arguments, reportPipe: true)
        let line = program.readReportLine()
        #expect(line == "ready \(program.pid)")
        return program
    }
}

/// gdb's view: for each frame (0 up), `info args` and `info locals`; and `print` of each global.
/// A value gdb could not read ("<error reading variable …>", "<error: Cannot access memory …>")
/// or "<optimized out>" counts as none.
func gdbVariables(_ pid: Int32, frames: Int, globals: [String], limits: PrintLimits) throws -> (frames: [SeenFrame], globals: [SeenVariable]) {
    let directory = makeTemporaryDirectory()
    var commands = ["set max-value-size unlimited", "set print elements \(limits.elements)", "set print max-depth \(limits.depth)",
                    "set width 0"]
    for index in 0..<frames {
        commands += ["echo @@frame\\n", "frame \(index)", "echo @@args\\n", "info args", "echo @@locals\\n", "info locals"]
    }
    commands.append("echo @@globals\\n")
    commands += globals.map { "print \($0)" }
    let gdb = try TestProcess("/usr/bin/gdb", ["-batch", "-nx", "-p", String(pid)] + commands.flatMap { ["-ex", $0] },
                              outputPath: directory + "/gdb.txt")
    #expect(gdb.waitForExit() == 0)
    var result: [SeenFrame] = []
    var printed: [SeenVariable] = []
    var section = ""
    for line in (readFile(directory + "/gdb.txt") ?? "").split(separator: "\n").map(String.init) {
        if line.hasPrefix("@@") {
            section = String(line.dropFirst(2))
            if section == "frame" { result.append(SeenFrame(function: "")) }
            continue
        }
        switch section {
        case "frame":
            // "#3  0x000055… in vars_leaf (scale=2.75, …) at /…/vars.c:110", or without "0x… in".
            if let match = line.firstMatch(of: /^#[0-9]+ +(?:0x[0-9a-f]+ in )?([^ ]+) \(.*\) at (.+):[0-9]+$/) {
                result[result.count - 1].function = String(match.1)
                result[result.count - 1].file = String(match.2)
            } else if let match = line.firstMatch(of: /^#[0-9]+ +(?:0x[0-9a-f]+ in )?([^ ]+) \(/) {
                result[result.count - 1].function = String(match.1)
            }
        case "args", "locals":
            guard let match = line.firstMatch(of: /^([A-Za-z_][A-Za-z0-9_]*) = (.*)$/) else { continue }
            let value = String(match.2)
            let seen = SeenVariable(name: String(match.1), value: value == "<optimized out>" || value.contains("<error reading variable")
                                    || value.hasPrefix("<error:") ? nil : value)
            if section == "args" { result[result.count - 1].parameters.append(seen) } else { result[result.count - 1].locals.append(seen) }
        case "globals":
            // "$1 = 7"
            guard let match = line.firstMatch(of: /^\$[0-9]+ = (.*)$/), printed.count < globals.count else { continue }
            printed.append(SeenVariable(name: globals[printed.count], value: String(match.1)))
        default:
            break
        }
    }
    // gdb 13 lists an inlined function's local a second time, <optimized out>, when GCC put the
    // concrete copy in a lexical block of its own (once from the concrete DIE, once inherited from
    // the abstract instance): that second copy is dropped.
    for index in result.indices {
        var seen = Set<String>()
        result[index].locals = result[index].locals.filter { local in
            defer { seen.insert(local.name) }
            return local.value != nil || !seen.contains(local.name)
        }
    }
    return (result, printed)
}

/// Our view, from the JSON report of `invoker snapshot` with the variables tracer.
struct OurVariables {
    var frames: [SeenFrame]
    var globals: [SeenVariable]
    /// Every variable's value text, for the bounds checks.
    var values: [String]
    var report: [String: Any]
    var text: String
    var jsonPath: String
    let pid: Int

    init(_ pid: Int32, globals: [String], limits: PrintLimits, extra: String = "") throws {
        self.pid = Int(pid)
        let quoted = globals.map { "\"\($0)\"" }.joined(separator: ", ")
        let config = try writeConfiguration("""
            [[tracer]]
            use = "unwind"
            [[tracer]]
            use = "variables"
            max_elements = \(limits.elements)
            max_depth = \(limits.depth)
            globals = [\(quoted)]
            \(extra)
            """)
        (report, text, jsonPath) = try snapshotReports(pid, config: config)
        let main = (report["threads"] as? [[String: Any]] ?? []).first { $0["tid"] as? Int == Int(pid) }
        func seen(_ entry: [String: Any]) -> SeenVariable {
            SeenVariable(name: entry["name"] as? String ?? "?", value: entry["value"] as? String)
        }
        var all: [String] = []
        frames = (main?["frames"] as? [[String: Any]] ?? []).map { frame in
            let function = frame["function"] as? String ?? "??"
            var seenFrame = SeenFrame(function: String(function.prefix { $0 != "(" }), file: frame["file"] as? String)
            for variable in frame["variables"] as? [[String: Any]] ?? [] {
                if let value = variable["value"] as? String { all.append(value) }
                if variable["kind"] as? String == "parameter" { seenFrame.parameters.append(seen(variable)) } else { seenFrame.locals.append(seen(variable)) }
            }
            return seenFrame
        }
        self.globals = (report["globals"] as? [[String: Any]] ?? []).map(seen)
        values = all
    }
}

/// What comparing one side with the other found.
struct VariableComparison {
    /// Variables both have a value for, and whether those agree.
    var compared = 0
    var disagreements: [String] = []
    /// gdb has a value, we have none.
    var missed: [String] = []
    /// We have a value, gdb has none (a parameter recovered from its caller's call site, or a
    /// value gdb could not read).
    var onlyOurs: [String] = []
    /// The variable lists themselves differ (names or order).
    var listMismatches: [String] = []

    mutating func compare(_ ours: [SeenVariable], _ theirs: [SeenVariable], at place: String) {
        if ours.map(\.name) != theirs.map(\.name) {
            listMismatches.append("\(place): ours \(ours.map(\.name)) gdb \(theirs.map(\.name))")
        }
        for (mine, gdb) in zip(ours, theirs) where mine.name == gdb.name {
            switch (mine.value, gdb.value) {
            case let (mine?, gdb?):
                compared += 1
                if mine != gdb { disagreements.append("\(place) \(gdb): ours \(mine)") }
            case (nil, _?): missed.append("\(place) \(gdb)")
            case (_?, nil): onlyOurs.append("\(place) \(mine)")
            case (nil, nil): break
            }
        }
    }
}

/// Runs the published schema's validator (Debian's python3-jsonschema) on a JSON report;
/// the validator's complaint, or nil when the report is valid.
func schemaComplaint(reportPath: String) throws -> String? {
    let directory = makeTemporaryDirectory()
    let validator = try TestProcess("/usr/bin/python3", ["-c", """
        import json, sys, jsonschema
        jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))
        """, reportPath, packageRoot + "/schema/invoker-report-1.schema.json"], outputPath: directory + "/validate.txt")
    return validator.waitForExit() == 0 ? nil : readFile(directory + "/validate.txt") ?? "the validator failed"
}
