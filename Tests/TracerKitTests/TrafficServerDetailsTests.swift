// Traffic Server's details for the crash log, without a server: traffic_ctl's two output shapes
// become traffic_crashlog's "name value" lines; the version banner is found in a binary's bytes;
// no traffic_manager, or a traffic_ctl someone else could have replaced, means no records, with
// the reason.

#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
@testable import Tracers

@Suite(.timeLimit(.minutes(1)))
struct TrafficServerDetailsTests {
    @Test func trafficCtlOutputBecomesNameValueLines() {
        let metrics = "NOTE: using the environment variable TS_RUNROOT\nproxy.process.http.completed_requests 4\nproxy.node.hostname vm\n"
        #expect(TrafficServerRecords.parse(metrics, separator: " ") == ["proxy.process.http.completed_requests 4", "proxy.node.hostname vm"])
        let config = "proxy.config.http.server_ports: 8080 8080:ipv6\nproxy.config.socks.default_servers: \n"
        #expect(TrafficServerRecords.parse(config, separator: ": ") == ["proxy.config.http.server_ports 8080 8080:ipv6", "proxy.config.socks.default_servers "])
    }

    @Test func versionBannerIsFoundInTheBinarysBytes() {
        let bytes = Array("\0TS/9\0Traffic Server \0Traffic Server 9.2.9 Apr  4 2026 14:52:39 localhost\0".utf8)
        #expect(TrafficServerVersion.find(in: bytes) == "Traffic Server 9.2.9")
        #expect(TrafficServerVersion.find(in: Array("no banner here".utf8)) == nil)
        #expect(TrafficServerVersion.isTrafficServer("/usr/bin/traffic_server") && !TrafficServerVersion.isTrafficServer("/usr/bin/ats-crasher"))
    }

    @Test func withoutTrafficManagerThereAreNoRecords() {
        let direct = TrafficServerRecords(executable: "/usr/bin/traffic_server", commandLine: ["/usr/bin/traffic_server"], parentPID: getpid())
        #expect(direct.whyNoManager?.hasPrefix("traffic_server was not started by traffic_manager") == true)
        let managed = TrafficServerRecords(executable: "/usr/bin/traffic_server", commandLine: ["/usr/bin/traffic_server", "-M", "--httpport", "8080:fd=8"], parentPID: 1)
        #expect(managed.whyNoManager == nil)
    }

    @Test(.enabled(if: geteuid() == 0, "the check applies to root only"))
    func aTrafficCtlOthersCanReplaceIsNotRunAsRoot() {
        let directory = makeTemporaryDirectory("invoker-ts")
        chmod(directory, 0o777)
        let fd = open(directory + "/traffic_ctl", O_WRONLY | O_CREAT, 0o755)
        close(fd)
        let records = TrafficServerRecords(executable: directory + "/traffic_server", commandLine: ["-M"], parentPID: nil)
        #expect(records.whyNotTrusted?.contains("refusing to run \(directory)/traffic_ctl as root: \(directory) is owned by uid 0, mode 777") == true,
                "\(records.whyNotTrusted ?? "nil")")
        #expect(records.read(deadline: .after(seconds: 5)) == .absent(records.whyNotTrusted!))
        #expect(TrafficServerRecords(executable: "/usr/bin/traffic_server", commandLine: ["-M"], parentPID: nil).whyNotTrusted == nil)
    }
}
