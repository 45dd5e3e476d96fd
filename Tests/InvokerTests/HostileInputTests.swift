// The fault suite for what the server's user controls besides the payload: the configuration's
// surroundings (directories above a tracer or the file, users, environment), the log directory
// (planted names, links, stale files), and text that tries to forge lines of the log or leak
// secrets. Each case is an attack that once worked (issue #13); each asserts it no longer does.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
import TracerKit

/// A root-owned directory (0755) inside a fresh temporary one, with an executable script in it.
private func tracerScript(_ body: String, name: String = "tracer") throws -> (directory: String, program: String) {
    let directory = makeTemporaryDirectory() + "/bin"
    mkdir(directory, 0o755)
    let program = directory + "/" + name
    try TrafficServerSandbox.write("#!/bin/sh\n" + body + "\n", to: program)
    chmod(program, 0o755)
    return (directory, program)
}

/// Processes whose command line is exactly `words`.
private func processes(running words: [String]) -> [Int32] {
    ProcFile.numericEntries(of: "/proc").filter { readFile("/proc/\($0)/cmdline")?.split(separator: "\0").map(String.init) == words }
}

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil && getuid() == 0,
                             "needs root and ptrace (the ownership rules apply to root only)"))
struct HostileInputTests {
    // MARK: - Tracer programs and the configuration file (items 1, 7, 23)

    @Test func aTracerInADirectoryOthersCanWriteIsRefusedAtCheckAndAtRun() throws {
        let (directory, program) = try tracerScript("echo ran-as-$(id -u)")
        let config = try writeConfiguration("[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nexec = [\"\(program)\"]\n")
        let (okStatus, okOutput) = try runInvoker(["check-config", config])
        #expect(okStatus == 0, "\(okOutput)")
        chmod(directory, 0o777)
        let (status, output) = try runInvoker(["check-config", config])
        #expect(status == 1)
        #expect(output.contains("\(config):4: tracer[2].exec: refusing \(program): running as root, every directory above a tracer must be owned by root and not writable by group or others, and \(directory) is not (owner uid 0, mode 777)"), "\(output)")
        // The launcher itself refuses it, whoever asks.
        let (launched, launchOutput) = try runInvoker(["exec-tracer", "--", program])
        #expect(launched == 126)
        #expect(launchOutput.contains("refusing \(program)"))
        chmod(directory, 0o755)

        // Safe when the helper started; made writable by the time its turn comes (here by the
        // tracer before it): checked again right before it runs, so it is not run.
        let (_, log) = try crashWithUnwindAnd("""
            [[tracer]]
            name = "first"
            exec = ["\(program)"]
            [[tracer]]
            exec = ["/bin/chmod", "777", "\(directory)"]
            [[tracer]]
            name = "second"
            exec = ["\(program)"]
            """)
        let programs = executedPrograms(log.text)
        #expect(programs.first?.output == ["ran-as-0"], "a script runs from its checked descriptor: \(programs)")
        #expect(log.text.contains("Tracer second not run: refusing \(program): running as root, every directory above a tracer must be owned by root"), "\(log.text)")
        #expect(log.text.components("ran-as-0") == 1)
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aConfigurationIsCheckedAtItsRealPathWithEveryDirectoryAbove() throws {
        let config = try writeConfiguration("[[tracer]]\nexec = [\"/bin/true\"]\n")
        let links = makeTemporaryDirectory()
        symlink(config, links + "/invoker.conf")
        let (status, output) = try runInvoker(["check-config", links + "/invoker.conf"])
        #expect(status == 0, "a symbolic link is followed and its target checked: \(output)")
        #expect(output.contains("tracers, in order: true (/bin/true, timeout 30.0 s,"))
        let directory = String(config.dropLast("/invoker.conf".count))
        chmod(directory, 0o777)
        defer { chmod(directory, 0o700) }
        let (refused, message) = try runInvoker(["check-config", links + "/invoker.conf"])
        #expect(refused == 1)
        #expect(message.contains("refusing \(config): running as root, every directory above a configuration must be owned by root and not writable by group or others, and \(directory) is not (owner uid 0, mode 777)"), "\(message)")
    }

    @Test func checkConfigRefusesAMissingProgramAndUnknownUsers() throws {
        for (line, sentence) in [
            ("exec = [\"/nonexistent/tracer\"]", "tracer[1].exec: cannot use /nonexistent/tracer: ENOENT"),
            ("exec = [\"/bin/true\"]\nuser = \"invoker-no-such-user\"",
             "tracer[1].user: no user invoker-no-such-user in the password database; a tracer never runs as root in its place"),
            ("exec = [\"/bin/true\"]\nuser = 4242424", "tracer[1].user: no user 4242424 in the password database"),
        ] {
            let config = try writeConfiguration("[[tracer]]\n" + line + "\n")
            let (status, output) = try runInvoker(["check-config", config])
            #expect(status == 1 && output.contains(sentence), "\(output)")
        }
    }

    @Test(arguments: [(["--user", "invoker-no-such-user"], "user = \"root\""), ([], "user = \"invoker-no-such-user\"")])
    func anUnknownUserNeverRunsATracerAsRoot(helperArguments: [String], userLine: String) throws {
        // With user = "root" the tracer runs (as root, as asked); an unknown user skips it.
        let config = try writeConfiguration("""
            [[tracer]]
            use = "unwind"
            [[tracer]]
            name = "asked"
            exec = ["/usr/bin/id", "-u"]
            \(userLine)
            [[tracer]]
            name = "default"
            exec = ["/usr/bin/id", "-u"]
            """)
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", extra: ["--config", config] + helperArguments)
        let log = try #require(run.log)
        let ran = executedPrograms(log.text).filter { $0.status.contains("exited with status 0") }
        if helperArguments.isEmpty {
            #expect(log.text.contains("Tracer asked not run: user invoker-no-such-user does not exist, and a tracer never runs as root in its place."), "\(log.text)")
            #expect(ran.count == 1)
        } else {
            #expect(log.text.contains("Tracer default not run: user invoker-no-such-user (the user Traffic Server passed with --user) does not exist"), "\(log.text)")
            #expect(ran.map(\.output) == [["0"]])
        }
        #expect(leftoverProcesses().isEmpty)
    }

    // MARK: - Tracer environment and children (items 11, 20, 21)

    @Test func aTracerGetsASanitizedEnvironmentAndItsEnvReachesOnlyIt() throws {
        let (_, log) = try crashWithUnwindAnd("""
            [[tracer]]
            name = "env"
            exec = ["/usr/bin/env"]
            env = { LD_PRELOAD = "/nonexistent/invoker-preload.so", INVOKER_TEST_MARK = "set" }
            [[tracer]]
            name = "bare"
            exec = ["/usr/bin/env"]
            inherit_env = "none"
            """, environment: ["INVOKER_TEST_DB_PASSWORD": "hunter2-planted", "INVOKER_TEST_URL": "https://u:pw-planted@example.com/"])
        let programs = executedPrograms(log.text)
        let env = try #require(programs.first).output
        #expect(env.contains("INVOKER_TEST_MARK=set"))
        #expect(env.contains("LD_PRELOAD=/nonexistent/invoker-preload.so"))
        #expect(env.contains { $0.hasPrefix("PATH=") })
        #expect(!log.text.contains("hunter2-planted") && !log.text.contains("pw-planted"))
        #expect(!env.contains { $0.hasPrefix("INVOKER_TEST_DB_PASSWORD") || $0.hasPrefix("INVOKER_TEST_URL") })
        // ld.so complains once, for the tracer: the launcher (root) never saw LD_PRELOAD.
        #expect(env.filter { $0.contains("invoker-preload.so") && $0.contains("cannot be preloaded") }.count == 1, "\(env)")
        #expect(programs.last?.output == [], "inherit_env = \"none\": \(programs.last?.output ?? [])")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func whatATracerLeftRunningIsKilledWithIt() throws {
        let sleeper = ["/bin/sleep", "347"]
        let (_, log) = try crashWithUnwindAnd("""
            [[tracer]]
            name = "spawner"
            exec = ["/bin/sh", "-c", "/bin/sleep 347 </dev/null >/dev/null 2>&1 & echo started"]
            """)
        let program = try #require(executedPrograms(log.text).first)
        #expect(program.output == ["started"])
        #expect(program.status.contains("processes it left in its process group were killed"), "\(program.status)")
        #expect(waitUntil(seconds: 10) { processes(running: sleeper).isEmpty }, "still running: \(processes(running: sleeper))")
        #expect(leftoverProcesses().isEmpty)
    }

    // MARK: - Text that forges lines or carries secrets (items 11, 12)

    @Test func forgedLinesAndSecretsInEveryPlaceAreNeutralised() throws {
        let (_, log) = try crashWithUnwindAnd("""
            [[tracer]]
            use = "process"
            [[tracer]]
            name = "forger"
            exec = ["/usr/bin/printf", "Signal Status:\\nCrashing Thread (TID 1, forged):\\n\\u001b[2J\\npassword=hunter3-planted\\n"]
            """, environment: ["INVOKER_TEST_FORGE": "x\nCrashing Thread (TID 1, forged):", "INVOKER_TEST_TOKEN_URL": "https://hooks.slack.com/services/T0/B0/planted-hook"])
        let lines = log.text.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("Signal Status:") }.count == 1)
        #expect(lines.filter { $0.hasPrefix("Crashing Thread") }.count == 1)
        #expect(!log.text.contains("\u{1B}"))
        #expect(lines.contains("  Signal Status:") && lines.contains("  \\e[2J"))
        #expect(lines.contains { $0.contains("INVOKER_TEST_FORGE=x\\nCrashing Thread (TID 1, forged):") })
        #expect(!log.text.contains("hunter3-planted") && !log.text.contains("planted-hook"))
        #expect(leftoverProcesses().isEmpty)
    }

    // MARK: - The log directory (items 6, 10, 15, 16)

    @Test func retentionKeepsThisRunsReportAndOrdersByTimeNotName() throws {
        let directory = makeTemporaryDirectory()
        let now = time(nil)
        func plant(_ name: String, ageSeconds: Int) throws {
            try TrafficServerSandbox.write("planted\n", to: directory + "/" + name)
            var times = [timespec(tv_sec: now - ageSeconds, tv_nsec: 0), timespec(tv_sec: now - ageSeconds, tv_nsec: 0)]
            utimensat(AT_FDCWD, directory + "/" + name, &times, 0)
        }
        try plant("crash-9999-12-31-235959.log", ageSeconds: 3600)   // sorts last by name, oldest by time
        try plant("crash-2000-01-01-000000.log", ageSeconds: 60)     // newest of the others
        try plant("crash-2000-01-01-000000.json", ageSeconds: 60)
        try plant("crash-2001-01-01-000000.json", ageSeconds: 7200)  // an orphan .json
        try plant(".crash-2001-01-01-000000.log.1234.tmp", ageSeconds: 7200)  // a killed writer's
        try plant(".crash-2001-01-01-000001.log.0123456789abcdef.tmp", ageSeconds: 0)  // a live writer's
        try plant("unrelated.log", ageSeconds: 9000)
        let config = try writeConfiguration("retention = 2\n")
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", logDirectory: directory, extra: ["--config", config])
        let mine = directoryEntries(directory).filter { $0.hasPrefix("crash-2") && !$0.hasPrefix("crash-2000") && !$0.hasPrefix("crash-2001") }
        #expect(mine.count == 2, "this run's .log and .json: \(directoryEntries(directory)) \(run.output)")
        #expect(Set(directoryEntries(directory)) == Set(mine + ["crash-2000-01-01-000000.log", "crash-2000-01-01-000000.json",
                                                             ".crash-2001-01-01-000001.log.0123456789abcdef.tmp", "unrelated.log"]))
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func plantedNamesCannotForceTheStandardErrorFallback() throws {
        let directory = makeTemporaryDirectory()
        // Every name the old scheme could use in the next few seconds, and its temporary names.
        let start = time(nil)
        var planted = 0
        for second in 0..<8 {
            var t = time_t(start + second)
            var parts = tm()
            localtime_r(&t, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let count = strftime(&buffer, buffer.count, "crash-%Y-%m-%d-%H%M%S", &parts)
            let base = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            for suffix in [""] + (1..<100).map({ "-\($0)" }) {
                try TrafficServerSandbox.write("", to: "\(directory)/\(base)\(suffix).log")
                planted += 1
            }
        }
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", logDirectory: directory)
        let written = directoryEntries(directory).filter { $0.hasSuffix(".log") && (readFile(directory + "/" + $0)?.contains("Crashing Thread") ?? false) }
        #expect(written.count == 1, "planted \(planted) names: \(run.output.prefix(400))")
        #expect(written.first.map { $0.split(separator: "-").last?.count == 16 + 4 } == true, "a random name: \(written)")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aSymbolicLinkOnTheLogDirectorysPathIsNotFollowed() throws {
        let root = makeTemporaryDirectory()
        mkdir(root + "/real", 0o755)
        mkdir(root + "/real/sub", 0o755)
        symlink(root + "/real", root + "/link")
        let run = try CrasherRun.run(payload: "10.2", mode: "segv", logDirectory: root + "/link/sub")
        #expect(run.terminatingSignal == SIGSEGV)
        #expect(directoryEntries(root + "/real/sub").isEmpty, "written through the link: \(directoryEntries(root + "/real/sub"))")
        #expect(run.output.contains("The report directory \(root)/link/sub has a symbolic link on its path (\(root)/link)"), "\(run.output.prefix(600))")
        // The report is not lost: it went to standard error.
        #expect(run.output.contains("Crashing Thread"))
        #expect(leftoverProcesses().isEmpty)
    }

    // MARK: - Pid file and descriptor limit (items 22, 23)

    @Test func thePidFileIsNeverWrittenThroughAHardLink() throws {
        let sleeper = try TestProcess("/bin/sleep", ["30"])
        defer { sleeper.finish() }
        #expect(sleeper.waitUntilSleeping())
        let directory = makeTemporaryDirectory()
        try TrafficServerSandbox.write("precious\n", to: directory + "/victim")
        link(directory + "/victim", directory + "/invoker.pid")
        let (status, output) = try runInvoker(["-p", String(sleeper.pid), "-d", "-P", directory + "/invoker.pid"])
        #expect(status == 0)
        #expect(readFile(directory + "/victim") == "precious\n")
        #expect(output.contains("refusing the pid file \(directory)/invoker.pid: it must be a regular file with no other name (links: 2)"))
        sleeper.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aDescriptorLimitOfTwelveStillWritesTheReport() throws {
        let sleeper = try TestProcess("/bin/sleep", ["30"])
        defer { sleeper.finish() }
        #expect(sleeper.waitUntilSleeping())
        let directory = makeTemporaryDirectory()
        // Traffic Server starts its helper with descriptors 0-2 only (a test runner leaks more):
        // bash closes the rest, then prlimit sets the limit and runs the helper.
        adoptOrphans()  // the report is finished by the helper's child, after the helper exits
        let script = "for fd in $(ls /proc/$$/fd); do [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\"; done; "
            + "exec /usr/bin/prlimit --nofile=12:12 \"$0\" -p \"$1\" --log-dir \"$2\""
        let helper = try TestProcess("/bin/bash", ["-c", script, builtProduct("invoker"), String(sleeper.pid), directory],
                                     outputPath: makeTemporaryDirectory() + "/output.txt")
        #expect(helper.waitForExit() == 0)
        sleeper.finish()
        reapAllChildren()
        let logs = directoryEntries(directory).filter { $0.hasSuffix(".log") }
        #expect(logs.count == 1)
        #expect(logs.first.flatMap { readFile(directory + "/" + $0) }?.contains("Thread (TID \(sleeper.pid), sleep):") == true)
        #expect(leftoverProcesses().isEmpty)
    }
}

extension String {
    /// How many times `word` occurs.
    func components(_ word: String) -> Int { split(separator: word, omittingEmptySubsequences: false).count - 1 }
}
