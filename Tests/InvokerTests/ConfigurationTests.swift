// invoker.conf validation: a good file loads with every key; each malformed file gets one precise
// message with file, line and key.

import Testing
@testable import Invoker

@Suite struct ConfigurationTests {
    @Test func fullFileLoads() throws {
        let configuration = try ConfigurationLoader.parse("""
            output_dir = "/var/tmp/reports"
            formats = ["text"]
            deadline = 12.5
            failure_policy = "stop"
            max_output_bytes = 4096
            retention = 10

            [[tracer]]
            use = "unwind"
            max_frames = 64

            [[tracer]]
            use = "process"
            redact = ["PIN"]
            maps = "full"
            max_descriptors = 8

            [[tracer]]
            name = "gdb"
            exec = ["/usr/bin/gdb", "-batch", "-p", "%p", "-ex", "bt"]
            timeout = 5
            user = "root"
            env = { LANG = "C" }
            cwd = "/tmp"
            """, file: "test.conf")
        #expect(configuration.outputDirectory == "/var/tmp/reports")
        #expect(configuration.deadline == 12.5)
        #expect(configuration.failurePolicy == .stop)
        #expect(configuration.maxOutputBytes == 4096)
        #expect(configuration.retention == 10)
        #expect(configuration.tracers == [
            .builtin(BuiltinTracerSpec(use: "unwind", maxFrames: 64)),
            .builtin(BuiltinTracerSpec(use: "process", redact: ["PIN"], fullMaps: true, maxDescriptors: 8)),
            .external(ExternalTracerSpec(name: "gdb", command: ["/usr/bin/gdb", "-batch", "-p", "%p", "-ex", "bt"],
                                         timeout: 5, user: "root", environment: ["LANG": "C"], workingDirectory: "/tmp")),
        ])
    }

    @Test func emptyFileMeansDefaults() throws {
        #expect(try ConfigurationLoader.parse("", file: "empty.conf") == Configuration())
    }

    /// Ten malformed files and the exact sentence each must get.
    @Test(arguments: [
        ("deadline = 5\nformats = [\"text\"\n", "bad.conf:2: not valid TOML at column 19: Error while parsing array"),
        ("deadlin = 5\n", "bad.conf:1: deadlin: unknown setting (did you mean `deadline`?)"),
        ("deadline = -1\n", "bad.conf:1: deadline: must be a positive number of seconds"),
        ("\nfailure_policy = \"sometimes\"\n", "bad.conf:2: failure_policy: must be \"continue\" or \"stop\""),
        ("formats = [\"xml\"]\n", "bad.conf:1: formats: \"xml\" is not a format; use \"text\" or \"json\""),
        ("[[tracer]]\nuse = \"unwind\"\n\n[[tracer]]\nexec = [\"gdb\", \"-p\", \"%p\"]\n",
         "bad.conf:5: tracer[2].exec: the program must be an absolute path (no PATH search, no shell), not \"gdb\""),
        ("[[tracer]]\nexec = [\"/usr/bin/gdb\", \"-p\", \"%q\"]\n",
         "bad.conf:2: tracer[1].exec: unknown placeholder %q in \"%q\"; use %p %t %s %e %o %r or %%"),
        ("[[tracer]]\nexec = [\"/bin/true\"]\ntimout = 3\n", "bad.conf:3: tracer[1].timout: not a setting of an external tracer (did you mean `timeout`?)"),
        ("[[tracer]]\nuse = \"unwind\"\nexec = [\"/bin/true\"]\n",
         "bad.conf:2: tracer[1].use: a tracer needs exactly one of `use = \"unwind\"` (built-in) or `exec = [\"/path\", \"args\"…]` (external program)"),
        ("[[tracer]]\nuse = \"variables2\"\n", "bad.conf:2: tracer[1].use: unknown built-in tracer; this build has: process, sysstats, unwind"),
        ("[[tracer]]\nexec = [\"/bin/true\"]\ntimeout = \"ten\"\n", "bad.conf:3: tracer[1].timeout: must be a positive number of seconds"),
        ("[[tracer]]\nexec = [\"/bin/true\"]\nenv = { A = 1 }\n", "bad.conf:3: tracer[1].env: the value of A must be a string"),
        ("[[tracer]]\nuse = \"unwind\"\nmaps = \"full\"\n", "bad.conf:3: tracer[1].maps: not a setting of the unwind tracer; known: use, name, max_frames"),
    ])
    func malformedFileGetsAPreciseMessage(text: String, message: String) {
        #expect {
            _ = try ConfigurationLoader.parse(text, file: "bad.conf")
        } throws: { error in
            (error as? ConfigurationError)?.description.hasPrefix(message) == true
                || { Issue.record("got: \(error)"); return false }()
        }
    }

    @Test func commandLineTracersAppendAndAreCapped() throws {
        let configuration = try ChainAssembly.configuration(
            file: nil, commandLineTracers: ["/bin/echo %p", "/bin/true"], environmentTracer: "/bin/date",
            exec: "/usr/bin/env")
        #expect(configuration.tracers.map(\.name) == ["unwind", "process", "sysstats", "echo", "true", "date", "exec"])
        #expect(configuration.tracers[6] == .external(ExternalTracerSpec(
            name: "exec", command: ["/usr/bin/env", "%p"], timeout: 30, user: nil, environment: [:], workingDirectory: nil)))
        #expect(throws: ConfigurationError.self) {
            try ChainAssembly.configuration(file: nil, commandLineTracers: Array(repeating: "/bin/true", count: 17),
                                            environmentTracer: nil, exec: nil)
        }
        #expect(throws: ConfigurationError.self) {
            try ChainAssembly.configuration(file: nil, commandLineTracers: ["gdb -p %p"], environmentTracer: nil, exec: nil)
        }
    }
}
