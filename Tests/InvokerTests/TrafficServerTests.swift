// End to end with Debian's real Traffic Server: traffic_server runs from a throw-away run root
// with proxy.config.crash_log_helper pointing at the built invoker; a SIGSEGV must produce a
// crash log in the run root's log directory with the fault, the crashing thread and a stack for
// every thread; a SIGTERM shutdown must produce none. Nothing may be left stopped, traced or zombie.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// A Traffic Server in its own run root, listening on a free loopback port.
struct TrafficServerSandbox {
    static let binary = "/usr/bin/traffic_server"
    let root: String
    let port: UInt16
    let server: TestProcess

    /// Copies Debian's configuration into a fresh run root and starts traffic_server in it; returns
    /// once it accepts connections (by then it has forked the helper and waited for it to park) and
    /// its main thread has taken its name, [TS_MAIN].
    static func start(configuration: String? = nil) throws -> TrafficServerSandbox {
        let root = try makeRunRoot()
        let port = freeLoopbackPort()
        adoptOrphans()
        let server = try TestProcess(binary, [], environment: environment(root: root, port: port, configuration: configuration))
        let sandbox = TrafficServerSandbox(root: root, port: port, server: server)
        guard waitUntilAccepting(port: port, while: server, seconds: 60),
              waitUntil(seconds: 30, { readFile("/proc/\(server.pid)/comm") == "[TS_MAIN]\n" }) else {
            server.finish()
            reapAllChildren()
            throw TestProcessError(message: "traffic_server did not start listening on 127.0.0.1:\(port); see \(root)/log")
        }
        return sandbox
    }

    /// A fresh run root holding a copy of Debian's configuration, owned by trafficserver.
    static func makeRunRoot() throws -> String {
        let root = makeTemporaryDirectory("invoker-ats")
        // traffic_server drops to the trafficserver user, as Debian configures it.
        chmod(root, 0o755)
        for directory in ["etc", "log", "run", "cache"] { mkdir(root + "/" + directory, 0o755) }
        let copy = try TestProcess("/bin/cp", ["-a", "/etc/trafficserver/.", root + "/etc/"])
        #expect(copy.waitForExit() == 0)
        try write("\(root)/cache 64M\n", to: root + "/etc/storage.config")
        try write("""
            prefix: \(root)
            exec_prefix: /usr
            bindir: /usr/bin
            sbindir: /usr/sbin
            sysconfdir: \(root)/etc
            datadir: /usr/share/trafficserver
            includedir: /usr/include
            libdir: /usr/lib/trafficserver
            libexecdir: /usr/lib/trafficserver/modules
            localstatedir: \(root)/run
            runtimedir: \(root)/run
            logdir: \(root)/log
            cachedir: \(root)/cache

            """, to: root + "/runroot.yaml")
        let owner = try TestProcess("/bin/chown", ["-R", "trafficserver:trafficserver"] + ["etc", "log", "run", "cache"].map { root + "/" + $0 })
        #expect(owner.waitForExit() == 0)
        return root
    }

    /// What points Traffic Server (or traffic_manager, which passes it on) at the run root `root`,
    /// our helper and the loopback `port`: PROXY_CONFIG_* variables override records.config.
    static func environment(root: String, port: UInt16, configuration: String?) -> [String: String] {
        [
            "TS_RUNROOT": root,
            "PROXY_CONFIG_CRASH_LOG_HELPER": builtProduct("invoker"),
            "PROXY_CONFIG_HTTP_SERVER_PORTS": "\(port):ip-in=127.0.0.1",
            // No core file of traffic_server in the sandbox.
            "PROXY_CONFIG_CORE_LIMIT": "0",
        ].merging(configuration.map { ["INVOKER_CONFIG": $0] } ?? [:]) { $1 }
    }

    var crashLogs: [String] { directoryEntries(root + "/log").filter { $0.hasPrefix("crash-") && $0.hasSuffix(".log") } }

    /// Starts traffic_server with the invoker chain `tracers` (TOML tables after the unwinder's),
    /// crashes its main thread with SIGSEGV, and returns the crash log's text.
    static func crash(withUnwindAnd tracers: String) throws -> String {
        // ATS 10's layout, whose "Other Non-Crashing Threads:" header the tests split on.
        let configuration = try writeConfiguration("log_layout = \"ats10\"\n[[tracer]]\nuse = \"unwind\"\n" + tracers)
        let sandbox = try start(configuration: configuration)
        sandbox.server.sendToMainThread(SIGSEGV)
        sandbox.server.waitForExit()
        reapAllChildren()
        return try #require(sandbox.crashLogs.first.flatMap { readFile(sandbox.root + "/log/" + $0) })
    }

    /// The helper traffic_server forked, if it is there.
    var helperState: String? {
        guard let children = readFile("/proc/\(server.pid)/task/\(server.pid)/children") else { return nil }
        for child in children.split(separator: " ") {
            if readFile("/proc/\(child)/comm")?.hasPrefix("invoker") == true {
                return readFile("/proc/\(child)/stat").flatMap { $0.split(separator: ")").last?.split(separator: " ").first }.map(String.init)
            }
        }
        return nil
    }

    /// The user traffic_server runs as now.
    var serverUser: String? {
        guard let status = readFile("/proc/\(server.pid)/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
              let uid = line.split(separator: "\t").dropFirst().first.flatMap({ UInt32($0) }),
              let entry = getpwuid(uid) else { return nil }
        return String(cString: entry.pointee.pw_name)
    }

    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TestProcessError(message: "cannot write \(path)") }
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }
}

@Suite(.timeLimit(.minutes(3)), .serialized,
       .enabled(if: access(TrafficServerSandbox.binary, X_OK) == 0, "Debian's trafficserver package is not installed"),
       .enabled(if: ptraceUnavailableReason() == nil, "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct TrafficServerTests {
    @Test func segfaultWritesACrashLogWithEveryThread() throws {
        let sandbox = try TrafficServerSandbox.start()
        #expect(sandbox.helperState == "T", "the helper should be parked (stopped) while the server runs")
        #expect(sandbox.serverUser == "trafficserver", "traffic_server should have dropped to its own user")
        // To the main thread: a process-directed signal may land in a thread ATS is still starting.
        sandbox.server.sendToMainThread(SIGSEGV)
        let status = sandbox.server.waitForExit()
        reapAllChildren()
        #expect(status & 0x7f == SIGSEGV, "traffic_server re-raises the signal once the helper is done")
        let logs = sandbox.crashLogs
        #expect(logs.count == 1)
        let log = CrashLog(try #require(logs.first.flatMap { readFile(sandbox.root + "/log/" + $0) }))
        #expect(log.text.contains("Segmentation fault"))
        // Debian's Traffic Server is 9.2: its version on the Version line, and 9.x's thread layout.
        #expect(log.text.contains("File:               /usr/bin/traffic_server\nVersion:            Traffic Server 9."))
        #expect(log.text.contains("\nHelper Version:     invoker "))
        #expect(log.isATS9Layout && log.text.contains("\n\nThread \(sandbox.server.pid), [TS_MAIN]:\n0    0x"))
        // Started directly, there is no traffic_manager to serve the records, and the log says so.
        #expect(!log.text.contains("\nTraffic Server Configuration Records:\n"))
        #expect(log.text.contains("  no Traffic Server Configuration Records: traffic_server was not started by traffic_manager"))
        let crashing = try #require(log.crashingThread)
        #expect(crashing.name == "[TS_MAIN]")
        #expect(crashing.functions.contains("main"))
        // Every thread of the server has a stack, and the event threads are where ATS puts them.
        let threadCount = log.text.split(separator: "\n").first { $0.hasPrefix("Threads:\t") }
            .flatMap { Int($0.dropFirst("Threads:\t".count)) }
        #expect(log.threads.count == threadCount)
        for thread in log.threads {
            // A thread ATS was still creating has only its first two frames; every other, more.
            let beingBorn = thread.functions == ["start_thread", "__clone3"]
            #expect(thread.functions.count >= 3 || beingBorn, "thread \(thread.tid) \(thread.name): \(thread.lines)")
            #expect(thread.functions.last == "_start" || thread.functions.contains("start_thread"),
                    "thread \(thread.tid) \(thread.name) does not reach its entry point: \(thread.lines)")
        }
        let eventThreads = log.threads.filter { $0.name.hasPrefix("[ET_NET") }
        #expect(!eventThreads.isEmpty)
        for thread in eventThreads {
            #expect(thread.functions.contains("EThread::execute()"), "\(thread.lines)")
        }
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func variablesOfEveryThreadOfTrafficServer() throws {
        // Debian builds traffic_server without debug information; the C library's frames have
        // theirs (libc6-dbg): every thread's parameters there, read while the server is stopped.
        let text = try TrafficServerSandbox.crash(withUnwindAnd: """
            [[tracer]]
            use = "variables"
            threads = "all"
            """)
        // [TS_MAIN] sleeps in a loop: clock_nanosleep's parameters, the timespec shown through its pointer.
        let crashing = try #require(text.components(separatedBy: "Other Non-Crashing Threads:").first)
        #expect(crashing.contains("      clock_id = 0  (parameter, clockid_t)"), "\(crashing)")
        #expect(crashing.range(of: #"      req = 0x[0-9a-f]+ -> \{tv_sec = [0-9]+, tv_nsec = [0-9]+\}  \(parameter, const struct timespec \*\)"#,
                               options: .regularExpression) != nil, "\(crashing)")
        // The event threads wait in epoll_wait for up to ATS's 32768 events.
        let others = text.components(separatedBy: "Other Non-Crashing Threads:").last ?? ""
        #expect(others.contains("      maxevents = 32768  (parameter, int)"), "\(others)")
        #expect(!text.contains("variables: stopped early"))
        #expect(text.contains("  variables: ") && text.contains(", completed"))
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func externalTracersRunAsTheServersUserUnlessConfigured() throws {
        let log = try TrafficServerSandbox.crash(withUnwindAnd: """
            [[tracer]]
            name = "whoami"
            exec = ["/usr/bin/id", "-un"]
            [[tracer]]
            name = "gdb-as-server-user"
            exec = ["/usr/bin/gdb", "-batch", "-nx", "-p", "%p", "-ex", "bt 1"]
            [[tracer]]
            name = "gdb-as-root"
            exec = ["/usr/bin/gdb", "-batch", "-nx", "-p", "%p", "-ex", "bt 1"]
            user = "root"
            """)
        let programs = executedPrograms(log)
        #expect(programs.map { $0.output.first ?? "" }.first == "trafficserver")
        // As trafficserver gdb cannot attach to the non-dumpable server, and the report says what to do.
        #expect(programs[1].output.contains("ptrace: Operation not permitted."))
        #expect(log.contains("External tracers run as trafficserver (the user Traffic Server passed with --user), but the server keeps capabilities (CapPrm "))
        #expect(log.contains("so a tool that attaches to it (gdb, gcore, eu-stack) cannot as that user: set user = \"root\" on such tracers in invoker.conf."))
        #expect(programs[2].status.hasPrefix("[gdb-as-root: exited with status 0"))
        #expect(programs[2].output.contains { $0.hasPrefix("#0 ") })
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func sigtermShutdownWritesNoLog() throws {
        let sandbox = try TrafficServerSandbox.start()
        sandbox.server.send(SIGTERM)
        sandbox.server.waitForExit()
        // The helper wakes by its parent-death signal, finds stdin at EOF and exits quietly.
        reapAllChildren()
        #expect(sandbox.crashLogs.isEmpty)
        #expect(leftoverProcesses().isEmpty)
    }
}

/// A loopback TCP port nobody listens on right now.
func freeLoopbackPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return UInt16(bigEndian: address.sin_port)
}

/// Polls until something accepts connections on 127.0.0.1:`port` (true), `process` exits or
/// `seconds` pass (false). This observes readiness; it does not guess a delay.
func waitUntilAccepting(port: UInt16, while process: TestProcess, seconds: Double) -> Bool {
    var refused = false
    let accepted = waitUntil(seconds: seconds) {
        if process.state == "Z" { refused = true; return true }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
    return accepted && !refused
}
