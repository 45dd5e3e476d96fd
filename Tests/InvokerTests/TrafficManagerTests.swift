// End to end with Traffic Server as Debian's systemd unit runs it: traffic_manager (real uid 0,
// effective uid trafficserver) starts traffic_server, which forks our helper with those ids. A
// SIGSEGV must give a full log (every thread, names, signal, registers) and the configuration
// records traffic_manager holds; traffic_manager's restart of the crashed server must write no
// log and give the new server a new parked helper; `traffic_ctl server stop` must write none.
// traffic_manager restarts a server that exits, forever: every test stops it, whatever happens.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
import TracerKit

/// traffic_manager in its own run root, with the traffic_server it started.
struct TrafficManagerSandbox {
    static let binary = "/usr/bin/traffic_manager"
    let root: String
    let port: UInt16
    let manager: TestProcess

    /// Starts traffic_manager in a fresh run root; returns once its traffic_server has named its
    /// main thread [TS_MAIN] and has a parked (stopped) helper.
    static func start(configuration: String? = nil) throws -> (TrafficManagerSandbox, server: pid_t) {
        let root = try TrafficServerSandbox.makeRunRoot()
        let port = freeLoopbackPort()
        adoptOrphans()
        // libdispatch's own messages on standard error (they go to syslog otherwise), where
        // traffic_manager collects its servers' and their helpers' (manager.out).
        let environment = TrafficServerSandbox.environment(root: root, port: port, configuration: configuration)
            .merging(["LIBDISPATCH_LOG": "stderr"]) { $1 }
        let manager = try TestProcess(binary, [], environment: environment, outputPath: root + "/manager.out")
        let sandbox = TrafficManagerSandbox(root: root, port: port, manager: manager)
        guard let server = sandbox.waitForServer(other: nil, seconds: 60) else {
            sandbox.stop()
            throw TestProcessError(message: "traffic_manager started no traffic_server with a parked helper; see \(root)/log")
        }
        return (sandbox, server)
    }

    var crashLogs: [String] { directoryEntries(root + "/log").filter { $0.hasPrefix("crash-") && $0.hasSuffix(".log") } }

    /// The manager's traffic_server (other than `other`) once it has named its main thread and its
    /// helper is parked; nil if none is within `seconds`.
    func waitForServer(other: pid_t?, seconds: Double) -> pid_t? {
        var found: pid_t? = nil
        _ = waitUntil(seconds: seconds) {
            found = childProcesses(of: manager.pid).first { pid in
                pid != other && readFile("/proc/\(pid)/comm") == "[TS_MAIN]\n" && helperState(of: pid) == "T"
            }
            return found != nil || manager.state == "Z"
        }
        return found
    }

    /// The state letter of the helper `server` forked, if it has one.
    func helperState(of server: pid_t) -> String? {
        childProcesses(of: server).first { readFile("/proc/\($0)/comm")?.hasPrefix("invoker") == true }
            .map { processState($0) }
    }

    /// `traffic_ctl` in this run root; returns its exit status and output.
    func trafficCtl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let output = root + "/traffic_ctl.out"
        let process = try TestProcess("/usr/bin/traffic_ctl", arguments, environment: ["TS_RUNROOT": root], outputPath: output)
        let status = process.waitForExit()
        return (status, readFile(output) ?? "")
    }

    /// Stops traffic_manager (SIGTERM: it stops its server first), kills whatever of the run root
    /// is still there after 20 s, and reaps it all.
    func stop() {
        guard manager.status == nil else { return }
        manager.send(SIGTERM)
        if !waitUntil(seconds: 20, { manager.state == "Z" }) { manager.send(SIGKILL) }
        manager.waitForExit()
        // Orphans (a server, a helper) are ours now (adoptOrphans): none may outlive the test.
        for pid in childProcesses(of: getpid()) {
            let name = readFile("/proc/\(pid)/comm") ?? ""
            if name.hasPrefix("traffic_") || name.hasPrefix("[TS_MAIN]") { kill(pid, SIGKILL) }
        }
        reapAllChildren()
    }
}

/// The state letter of a process in /proc/PID/stat ("" when it is gone).
func processState(_ pid: pid_t) -> String {
    readFile("/proc/\(pid)/stat").flatMap { $0.split(separator: ")").last?.split(separator: " ").first }.map(String.init) ?? ""
}

@Suite(.serialized, .timeLimit(.minutes(1)),
       .enabled(if: access(TrafficManagerSandbox.binary, X_OK) == 0, "Debian's trafficserver package is not installed"),
       .enabled(if: ptraceUnavailableReason() == nil, "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct TrafficManagerTests {
    @Test(.timeLimit(.minutes(1)))
    func segfaultUnderTrafficManagerWritesAFullLogAndTheRestartNone() throws {
        let (sandbox, server) = try TrafficManagerSandbox.start()
        defer { sandbox.stop() }
        // The helper's ids as Debian's unit gives them: real uid 0, effective uid trafficserver.
        let helper = try #require(childProcesses(of: server).first)
        let uids = readFile("/proc/\(helper)/status")?.split(separator: "\n").first { $0.hasPrefix("Uid:") }
        #expect(uids?.split(separator: "\t").dropFirst().first == "0", "\(uids ?? "")")
        #expect(uids?.split(separator: "\t").dropFirst(2).first != "0", "\(uids ?? "")")
        // traffic_server hands its metrics to traffic_manager once it has served (or after a
        // while): one request, then wait until traffic_manager has them, as it would in service.
        #expect(httpRequest(port: sandbox.port).hasPrefix("HTTP/1."))
        #expect(waitUntil(seconds: 20) {
            // (traffic_ctl says "NOTE: using the environment variable TS_RUNROOT" first.)
            (try? sandbox.trafficCtl(["metric", "match", "proxy.process.http.completed_requests"]))?.output
                .split(separator: "\n").contains { $0.hasPrefix("proxy.process.http.completed_requests ") } == true
        })
        sendToMainThread(of: server, SIGSEGV)
        // traffic_manager starts a new server; the new one gets a helper of its own, parked.
        let restarted = sandbox.waitForServer(other: server, seconds: 40)
        #expect(restarted != nil, "traffic_manager did not restart traffic_server with a parked helper")
        #expect(waitUntil(seconds: 20) { !sandbox.crashLogs.isEmpty })
        let logs = sandbox.crashLogs
        #expect(logs.count == 1, "one crash, one log; the restart writes none: \(logs)")
        let log = CrashLog(try #require(logs.first.flatMap { readFile(sandbox.root + "/log/" + $0) }))
        #expect(log.text.contains("siginfo.si_signo:   11 (Segmentation fault)"))
        #expect(log.text.contains("CPU Registers:\n") && log.text.contains("RIP:0x"))
        #expect(log.text.contains("took effective uid 0 back before attaching (the helper started with real uid 0, effective uid "))
        #expect(!log.text.contains("Cannot attach"))
        // traffic_crashlog's Version line and records section, from the binary and traffic_manager.
        #expect(log.text.contains("\nVersion:            Traffic Server 9."))
        let records = log.text.components(separatedBy: "\nTraffic Server Configuration Records:\n").last?
            .components(separatedBy: "\n\n").first?.split(separator: "\n") ?? []
        #expect(records.count > 500, "\(records.count) records")
        #expect(records.contains("proxy.config.admin.user_id trafficserver"))
        #expect(records.contains { $0.hasPrefix("proxy.process.http.completed_requests ") })
        #expect(records.contains("proxy.config.http.server_ports \(sandbox.port):ip-in=127.0.0.1"))
        // The JSON report has both too, and the published schema accepts it.
        let json = sandbox.root + "/log/" + logs[0].dropLast(".log".count) + ".json"
        let report = try #require(readFile(json))
        #expect(report.contains("\"server_version\": \"Traffic Server 9."))
        #expect(report.contains("\"proxy.config.admin.user_id\": \"trafficserver\""))
        #expect(try schemaComplaint(reportPath: json) == nil)
        // Every thread, with its name and a stack reaching its entry point.
        let threadCount = log.text.split(separator: "\n").first { $0.hasPrefix("Threads:\t") }
            .flatMap { Int($0.dropFirst("Threads:\t".count)) }
        #expect(threadCount != nil && log.threads.count == threadCount)
        let crashing = try #require(log.crashingThread)
        #expect(crashing.tid == server && crashing.name == "[TS_MAIN]" && crashing.functions.contains("main"))
        #expect(log.threads.contains { $0.name == "[ET_NET 0]" && $0.functions.contains("EThread::execute()") })
        for thread in log.threads {
            #expect(!thread.name.isEmpty && thread.functions.count >= 2, "thread \(thread.tid): \(thread.lines)")
        }
        // Nothing more after the restart has settled.
        #expect(sandbox.crashLogs.count == 1)
        #expect(restarted.map { sandbox.helperState(of: $0) } == "T")
        sandbox.stop()
        #expect(sandbox.crashLogs.count == 1, "stopping traffic_manager wrote a log: \(sandbox.crashLogs)")
        // The helpers (parked, then capturing) started no libdispatch worker that failed to set
        // its priority under traffic_manager's effective uid ("… errno=13" on every start).
        let said = readFile(sandbox.root + "/manager.out") ?? ""
        #expect(!said.contains("Failed to set thread priority"), "\(said)")
        #expect(leftoverProcesses().isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func trafficCtlServerStopWritesNoLog() throws {
        let (sandbox, server) = try TrafficManagerSandbox.start()
        defer { sandbox.stop() }
        let helper = try #require(childProcesses(of: server).first)
        let stop = try sandbox.trafficCtl(["server", "stop"])
        #expect(stop.status == 0, "\(stop.output)")
        // The server exits; its helper wakes (parent-death signal), finds no payload and exits.
        #expect(waitUntil(seconds: 30) { ["", "Z"].contains(processState(server)) })
        #expect(waitUntil(seconds: 30) { ["", "Z"].contains(processState(helper)) })
        #expect(sandbox.crashLogs.isEmpty, "\(sandbox.crashLogs)")
        sandbox.stop()
        #expect(sandbox.crashLogs.isEmpty)
        #expect(leftoverProcesses().isEmpty)
    }
}

/// Sends "GET / HTTP/1.0" to 127.0.0.1:`port` and returns what came back before the server closed
/// the connection (at most 64 KiB, within 10 s).
func httpRequest(port: UInt16) -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return "" }
    let request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var reply: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    let end = Deadline.after(seconds: 10)
    while reply.count < 65536 && !end.hasExpired {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 1000) > 0 else { continue }
        let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if got <= 0 { break }
        reply += chunk[0..<got]
    }
    return String(decoding: reply, as: UTF8.self)
}
