// Where a crash helper started without --log-dir writes its report, as Traffic Server's own
// records.config says: the first `CONFIG proxy.config.log.logfile_dir STRING …` line, found on
// the parked start-up path without splitting the rest of the file (comments, other keys).

#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Invoker
import TestSupport
import TracerKit

@Suite(.timeLimit(.minutes(1))) struct LogDirectoryTests {
    @Test func theFirstConfigLineOfTheKeyGivesTheDirectory() {
        let text = """
        # proxy.config.log.logfile_dir names where logs go; the default is the build's.
        #CONFIG proxy.config.log.logfile_dir STRING /commented/out
        CONFIG proxy.config.log.logfile_dir_suffix STRING /another/key
        CONFIG proxy.config.log.logfile_dir STRING var/log/ats\r
        CONFIG proxy.config.log.logfile_dir STRING /the/second
        """
        #expect(LogDirectory.logfileDirectory(inRecordsConfig: text) == "var/log/ats")
    }

    @Test(arguments: [
        "",
        "proxy.config.log.logfile_dir",
        "CONFIG proxy.config.log.logfile_dir STRING",
        "# CONFIG proxy.config.log.logfile_dir STRING /x\nCONFIG proxy.config.log.logging_enabled INT 3\n",
        "LOCAL proxy.config.log.logfile_dir STRING /x",
    ])
    func aFileThatSetsNoDirectoryGivesNone(text: String) {
        #expect(LogDirectory.logfileDirectory(inRecordsConfig: text) == nil)
    }

    @Test func aRelativeDirectoryIsUnderTheInstallPrefix() throws {
        let root = makeTemporaryDirectory()
        #expect(mkdir(root + "/etc", 0o755) == 0 && mkdir(root + "/etc/trafficserver", 0o755) == 0)
        try TrafficServerSandbox.write("CONFIG proxy.config.exec_thread.autoconfig INT 1\nCONFIG proxy.config.log.logfile_dir STRING var/log/ats\n",
                                       to: root + "/etc/trafficserver/records.config")
        let chosen = LogDirectory.resolve(explicit: nil, runroot: nil, environment: ["TS_ROOT": root])
        #expect(chosen.path == root + "/var/log/ats" && chosen.source == "records.config")
    }

    @Test(arguments: [
        ("/var/log/trafficserver", ["var", "log", "trafficserver"]),
        ("//var//log/./ats/", ["var", "log", "ats"]),
        ("logs/crash", ["logs", "crash"]),
        ("./logs/../crash", ["logs", "..", "crash"]),
        ("/", []),
        ("/journal/été", ["journal", "été"]),
    ])
    func theDirectoryIsOpenedOneComponentAtATime(path: String, components: [String]) {
        #expect(Directories.components(of: path) == components)
    }

    /// The helper's start-up reads each variable where it uses it, from the process's environment
    /// as it is at that moment (EnvironmentVariables.process): no list of names kept elsewhere can
    /// leave one out.
    @Test func theStartUpReadsEachVariableFromTheProcessEnvironment() throws {
        let names = ["TS_ROOT", "PROXY_CONFIG_LOG_LOGFILE_DIR", "INVOKER_CONFIG", "INVOKER_LOG_DIR"]
        let earlier = names.map { name in getenv(name).map { String(cString: $0) } }
        defer {
            for (name, value) in zip(names, earlier) {
                if let value { setenv(name, value, 1) } else { unsetenv(name) }
            }
        }
        let root = makeTemporaryDirectory()
        setenv("TS_ROOT", root, 1)
        setenv("PROXY_CONFIG_LOG_LOGFILE_DIR", "var/log/from-the-environment", 1)
        setenv("INVOKER_CONFIG", root + "/invoker.conf", 1)
        setenv("INVOKER_LOG_DIR", root + "/client-reports", 1)
        let chosen = LogDirectory.resolve(explicit: nil, runroot: nil)
        #expect(chosen.path == root + "/var/log/from-the-environment" && chosen.source == "PROXY_CONFIG_LOG_LOGFILE_DIR")
        #expect(ConfigurationLoader.locate(explicit: nil) == root + "/invoker.conf")
        let client = LogDirectory.forClient(explicit: nil, configured: "/configured")
        #expect(client.path == root + "/client-reports" && client.source == "INVOKER_LOG_DIR")
        unsetenv("PROXY_CONFIG_LOG_LOGFILE_DIR")
        unsetenv("INVOKER_LOG_DIR")
        #expect(LogDirectory.resolve(explicit: nil, runroot: nil).source != "PROXY_CONFIG_LOG_LOGFILE_DIR")
        #expect(LogDirectory.forClient(explicit: nil, configured: "/configured").source == "output_dir")
    }
}
