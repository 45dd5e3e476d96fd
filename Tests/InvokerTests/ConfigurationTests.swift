// invoker.conf validation: a good file loads with every key; each malformed file gets one precise
// message with file, line and key.

import Testing
import Tracers
@testable import Invoker

@Suite(.timeLimit(.minutes(1))) struct ConfigurationTests {
    @Test func checkConfigListsEveryProblemInOneRunAndEachTracersUser() throws {
        let bad = try writeConfiguration("""
            deadline = -3
            colour = "blue"
            [[tracer]]
            use = "unwind"
            max_frames = 0
            [[tracer]]
            name = "gdb"
            exec = ["/usr/bin/gdb", "-p", "%p"]
            timeout = "soon"
            """)
        let (status, output) = try runInvoker(["check-config", bad])
        #expect(status == 1)
        let problems = output.split(separator: "\n").filter { $0.hasPrefix(bad + ":") }.map { String($0.dropFirst(bad.count)) }
        #expect(Set(problems) == [":1: deadline: must be a positive number of seconds, at most 86400 (one day)",
                                  ":2: colour: unknown setting; known: output_dir, formats, deadline, failure_policy, max_output_bytes, retention, early_release, log_layout, group_threads, stop_timeout, stack_copy_limit, keep_core, keep_core_limit, debug_info_cache, debug_info_cache_limit, tracer, sentry, store, notify",
                                  ":5: tracer[1].max_frames: must be an integer from 1 to 4096",
                                  ":9: tracer[2].timeout: must be a positive number of seconds, at most 86400 (one day)"], "\(output)")
        let good = try writeConfiguration("""
            [[tracer]]
            name = "gdb"
            exec = ["/usr/bin/gdb", "-p", "%p"]
            user = "root"
            [[tracer]]
            name = "id"
            exec = ["/usr/bin/id"]
            """)
        let (okStatus, summary) = try runInvoker(["check-config", good])
        #expect(okStatus == 0)
        #expect(summary.contains("gdb (/usr/bin/gdb -p %p, timeout 30.0 s, runs as root); id (/usr/bin/id, timeout 30.0 s, runs as the user Traffic Server passes with --user, else as invoker's own user)"), "\(summary)")
    }

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
            .builtin(BuiltinTracerSpec(use: "unwind", stage: .unwind(UnwindTracer(maxFrames: 64)))),
            .builtin(BuiltinTracerSpec(use: "process", stage: .collector(ProcessInfoTracer(
                redactPatterns: ProcessInfoTracer.defaultRedactPatterns + ["PIN"], fullMaps: true, maxListedDescriptors: 8)))),
            .external(ExternalTracerSpec(name: "gdb", command: ["/usr/bin/gdb", "-batch", "-p", "%p", "-ex", "bt"],
                                         timeout: 5, user: "root", environment: ["LANG": "C"], workingDirectory: "/tmp")),
        ])
    }

    @Test func variablesTracerSettingsLoad() throws {
        let configuration = try ConfigurationLoader.parse("""
            [[tracer]]
            use = "unwind"
            [[tracer]]
            use = "variables"
            threads = "all"
            max_frames = 8
            max_depth = 3
            max_elements = 50
            max_value_bytes = 1024
            max_total_bytes = 65536
            timeout = 0.25
            globals = ["server_state", "config::limits"]
            """, file: "test.conf")
        guard case .builtin(let spec)? = configuration.tracers.last else {
            Issue.record("\(configuration.tracers)")
            return
        }
        var expected = VariablesOptions()
        expected.allThreads = true
        expected.maxFrames = 8
        expected.maxDepth = 3
        expected.maxElements = 50
        expected.maxValueBytes = 1024
        expected.maxTotalBytes = 65536
        expected.timeout = 0.25
        expected.globals = ["server_state", "config::limits"]
        #expect(spec.use == "variables" && spec.stage == .variables(VariablesTracer(options: expected)))
    }

    @Test func emptyFileMeansDefaults() throws {
        #expect(try ConfigurationLoader.parse("", file: "empty.conf") == Configuration())
        #expect(Configuration().groupThreads)
        #expect(try ConfigurationLoader.parse("group_threads = false\n", file: "flat.conf").groupThreads == false)
        // invoker core's kept copy of a piped core: off, and 1 GiB of core when on.
        #expect(!Configuration().keepCore && Configuration().keepCoreLimit == 1 << 30)
        let keep = try ConfigurationLoader.parse("keep_core = true\nkeep_core_limit = 65536\n", file: "keep.conf")
        #expect(keep.keepCore && keep.keepCoreLimit == 65536)
        // The debug-info cache: root's, in /var/cache, 1 GiB at most, unless named or "" (none).
        #expect(Configuration().debugInfoCache == "/var/cache/invoker/debug-info" && Configuration().debugInfoCacheIsDefault)
        #expect(Configuration().debugInfoCacheLimit == 1 << 30)
        let none = try ConfigurationLoader.parse("debug_info_cache = \"\"\n", file: "none.conf")
        #expect(none.debugInfoCache == nil && !none.debugInfoCacheIsDefault)
        let named = try ConfigurationLoader.parse("debug_info_cache = \"/srv/dbg/\"\ndebug_info_cache_limit = 0\n", file: "named.conf")
        #expect(named.debugInfoCache == "/srv/dbg" && !named.debugInfoCacheIsDefault && named.debugInfoCacheLimit == 0)
    }

    /// Malformed files and the exact sentence each must get.
    @Test(arguments: [
        ("deadline = 5\nformats = [\"text\"\n", "bad.conf:2: not valid TOML at column 19: Error while parsing array"),
        ("deadlin = 5\n", "bad.conf:1: deadlin: unknown setting (did you mean `deadline`?)"),
        ("deadline = -1\n", "bad.conf:1: deadline: must be a positive number of seconds"),
        ("keep_core = \"yes\"\n", "bad.conf:1: keep_core: must be true or false"),
        ("keep_core_limit = 0\n", "bad.conf:1: keep_core_limit: must be a positive number of bytes"),
        ("\n\ndebug_info_cache_limit = -1\n", "bad.conf:3: debug_info_cache_limit: must be a number of bytes (0 keeps only the files the last run used)"),
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
        ("[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nuse = \"variables\"\nmax_depth = 0\n",
         "bad.conf:5: tracer[2].max_depth: must be an integer from 1 to 64"),
        ("[[tracer]]\nuse = \"variables\"\nglobals = \"x\"\n",
         "bad.conf:3: tracer[1].globals: must be an array of global variable names, such as [\"server_state\", \"config::limits\"]"),
        ("[[tracer]]\nuse = \"variables\"\nthreads = \"some\"\n", "bad.conf:3: tracer[1].threads: must be \"crashing\" or \"all\""),
        ("[[tracer]]\nuse = \"variables\"\nmax_elemnts = 3\n",
         "bad.conf:3: tracer[1].max_elemnts: not a setting of the variables tracer (did you mean `max_elements`?)"),
        ("[[tracer]]\nuse = \"variables\"\ntimeout = 0\n", "bad.conf:3: tracer[1].timeout: must be a positive number of seconds"),
        ("deadline = 5\ngroup_threads = \"no\"\n", "bad.conf:2: group_threads: must be true or false"),
        // A misordered chain: the variables tracer reads the unwinder's frames.
        ("[[tracer]]\nuse = \"variables\"\n\n[[tracer]]\nuse = \"unwind\"\n",
         "bad.conf:2: tracer[1].use: the variables tracer reads the frames the unwind tracer finds: put a [[tracer]] with use = \"unwind\" before it"),
        ("[[tracer]]\nuse = \"process\"\n[[tracer]]\nuse = \"variables\"\n",
         "bad.conf:4: tracer[2].use: the variables tracer reads the frames the unwind tracer finds"),
        ("store = 3\n", "bad.conf:1: store: must be a table: write it as [store]"),
        ("[store]\nloop_report = 3\n", "bad.conf:2: store.loop_report: not a setting of [store] (did you mean `loop_reports`?)"),
        ("[store]\nenabled = true\nloop_window = 0\n", "bad.conf:3: store.loop_window: must be a number of seconds from 1 to a year"),
        ("[store]\nmax_store_bytes = -1\n", "bad.conf:2: store.max_store_bytes: must be 0 (no limit) or a positive number of bytes"),
        ("[[notify]]\nexec = [\"/bin/echo\", \"%x\"]\n", "bad.conf:2: notify[1].exec: unknown placeholder in \"%x\""),
        ("[[notify]]\nexec = [\"mail\"]\ngroupe = \"adm\"\n", "bad.conf:3: notify[1].groupe: not a setting of a notifier (did you mean `group`?)"),
        // Table headers toml++ would assert on (found by ConfigurationFuzzTests), and an array
        // value on its own line, which is not a header.
        ("[[)racer]]\nuse = \"unwind\"\n", "bad.conf:1: not valid TOML: a table header must start with a key name, not \")\""),
        ("\u{FEFF}[[[[tracer]]\nuse = \"unwind\"\n", "bad.conf:1: not valid TOML: a table header must start with a key name, not \"[\""),
        ("deadline = 5\n[[\ntracer]]\n", "bad.conf:2: not valid TOML: a table header must start with a key name, not the end of the line"),
        ("formats = [\n  [\"text\"],\n]\n", "bad.conf:1: formats:"),
        ("[[tracer]]\nexec = [\"/usr/bin/gdb\", }%p\"]\n", "bad.conf:2: not valid TOML: a value cannot start with \"}\""),
        ("deadline = 5 # \u{7}\n", "bad.conf:1: not valid TOML: a control character (U+7) in a comment"),
        ("[[tracer]]\nexec = [\"/bin/true\"]\nuser = 1979-05-27T(7:30Z\n", "bad.conf:3: not valid TOML: a date and time needs a time after \"T\", not \"(\""),
        // Out-of-range numbers (they passed, then trapped every run in Deadline.adding).
        ("deadline = 1e10\n", "bad.conf:1: deadline: must be a positive number of seconds, at most 86400 (one day)"),
        ("deadline = inf\n", "bad.conf:1: deadline: must be a positive number of seconds, at most 86400 (one day)"),
        ("deadline = nan\n", "bad.conf:1: deadline: must be a positive number of seconds, at most 86400 (one day)"),
        ("[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nuse = \"variables\"\ntimeout = 1e300\n",
         "bad.conf:5: tracer[2].timeout: must be a positive number of seconds, at most 86400 (one day)"),
        ("[[tracer]]\nexec = [\"/bin/true\"]\ntimeout = 9223372036854775807\n",
         "bad.conf:3: tracer[1].timeout: must be a positive number of seconds, at most 86400 (one day)"),
        ("max_output_bytes = 9223372036854775807\n", "bad.conf:1: max_output_bytes: must be an integer from 1 to 268435456 (256 MiB)"),
        ("stack_copy_limit = 9223372036854775807\n",
         "bad.conf:1: stack_copy_limit: must be a number of bytes from 0 (copy no stack up front) to 1073741824 (1 GiB)"),
        ("retention = 9223372036854775807\n", "bad.conf:1: retention: must be 0 (keep all) or a positive integer up to 1000000"),
        ("[[tracer]]\nuse = \"process\"\nmax_descriptors = 99999999999\n",
         "bad.conf:3: tracer[1].max_descriptors: must be an integer from 0 to 1000000"),
        ("[[tracer]]\nexec = [\"/bin/true\"]\ninherit_env = \"some\"\n",
         "bad.conf:3: tracer[1].inherit_env: must be \"sanitized\" (the default: no secrets), \"all\" or \"none\""),
        ("[[tracer]]\nuse = \"process\"\nmaps = \"some\"\n", "bad.conf:3: tracer[1].maps: must be \"summary\" or \"full\""),
        ("[[tracer]]\nuse = \"process\"\nredact = [\"PIN\", 4]\n",
         "bad.conf:3: tracer[1].redact: must be an array of strings (parts of variable names, such as \"PASSWORD\")"),
        ("[[tracer]]\nuse = \"sysstats\"\nmax_frames = 8\n",
         "bad.conf:3: tracer[1].max_frames: not a setting of the sysstats tracer; known: use, name"),
    ])
    func malformedFileGetsAPreciseMessage(text: String, message: String) {
        #expect {
            _ = try ConfigurationLoader.parse(text, file: "bad.conf")
        } throws: { error in
            (error as? ConfigurationError)?.description.hasPrefix(message) == true
                || { Issue.record("got: \(error)"); return false }()
        }
    }

    @Test func storeSettingsLoad() throws {
        let configuration = try ConfigurationLoader.parse("""
            [store]
            enabled = false
            loop_reports = 5
            loop_window = 90.5
            max_store_bytes = 1000000
            max_age_days = 0
            """, file: "store.conf")
        #expect(configuration.store == StoreSettings(enabled: false, loopReports: 5, loopWindow: 90.5, maxStoreBytes: 1_000_000,
                                                     maxAgeDays: 0))
        #expect(try ConfigurationLoader.parse("", file: "empty.conf").store == StoreSettings())
    }

    @Test func commandLineTracersAppendAndAreCapped() throws {
        let configuration = try ChainAssembly.configuration(
            file: nil, commandLineTracers: ["/bin/echo %p", "/bin/true"], environmentTracer: "/bin/date",
            exec: "/usr/bin/env")
        #expect(configuration.tracers.map(\.name) == ["unwind", "process", "sysstats", "echo", "true", "date", "exec"])
        #expect(configuration.tracers[6] == .external(ExternalTracerSpec(
            name: "exec", command: ["/usr/bin/env", "%p"], timeout: 30, user: nil, environment: [:], workingDirectory: nil)))
        // A bad command-line tracer is left out with a warning; the rest of the chain stands.
        let capped = try ChainAssembly.configuration(file: nil, commandLineTracers: Array(repeating: "/bin/true", count: 17),
                                                     environmentTracer: nil, exec: nil)
        #expect(capped.tracers.count == 3 + 16)
        #expect(capped.warnings == ["command line: --tracer: 17 tracers given; at most 16 are accepted; the rest are ignored"])
        let relative = try ChainAssembly.configuration(file: nil, commandLineTracers: ["gdb -p %p", "/bin/true"],
                                                       environmentTracer: nil, exec: nil)
        #expect(relative.tracers.map(\.name) == ["unwind", "process", "sysstats", "true"])
        #expect(relative.warnings == ["command line: --tracer: \"gdb -p %p\" must start with the absolute path of a program; this tracer is left out"])
    }
}
