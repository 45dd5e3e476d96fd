// The helper's two readers of its command line: a server's usual words are read without
// swift-argument-parser (start-up to parked is what a server waits for), and whatever that reader
// accepts, argument-parser reads the same way; whatever is unusual is left to argument-parser.

import ArgumentParser
import Testing
@testable import Invoker

@Suite(.timeLimit(.minutes(1))) struct HelperOptionsTests {
    static let serverCommandLines: [[String]] = [
        [],
        ["--syslog", "--wait", "--host", "x86_64-pc-linux-gnu", "--user", "trafficserver"],
        ["--syslog", "--wait", "--host", "x86_64-pc-linux-gnu", "--user", "#-1", "--log-dir", "/var/log/ats"],
        ["-w", "-n", "-p", "4242", "-t", "/usr/bin/eu-stack -p %p", "--tracer=/usr/bin/gdb -p %p", "-d"],
        ["--wait", "--config=/etc/invoker/test.conf", "--runroot", "/opt/ats", "-P", "/run/invoker.pid", "--exec", "/bin/true"],
        ["--client", "--target", "77", "--run-root=/srv/ats", "--pid-file=/run/x.pid"],
    ]

    @Test(arguments: serverCommandLines)
    func aServersCommandLineReadsAsArgumentParserReadsIt(words: [String]) throws {
        let fast = try #require(HelperOptions(serverArguments: words))
        let parsed = try HelperCommand.parse(words).options
        #expect(fast == parsed)
    }

    @Test func theWordsOfAnATSStartAreTheOptions() throws {
        let options = try #require(HelperOptions(serverArguments: ["--syslog", "--wait", "--host", "x86_64-pc-linux-gnu",
                                                                   "--user", "trafficserver"]))
        #expect(options.syslog && options.wait && !options.debug && !options.client)
        #expect(options.host == "x86_64-pc-linux-gnu" && options.user == "trafficserver")
        #expect(options.tracer.isEmpty && options.target == nil && options.unrecognized.isEmpty)
    }

    @Test(arguments: [
        ["--help"], ["-h"], ["--version"], ["-v"], ["snapshot", "--pid", "1"], ["help"],
        ["--some-future-ats-option", "x"], ["--wait", "--wait"], ["--host"], ["--user", "--wait"],
        ["-p", "not-a-pid"], ["-wd"], ["--syslog=yes"], ["-p4242"], ["--host", "a", "--host", "b"],
    ])
    func anythingUnusualIsLeftToArgumentParser(words: [String]) {
        #expect(HelperOptions(serverArguments: words) == nil)
    }

    @Test func theWordsAreReadFromArgvAsTheStandardLibraryReadsThem() {
        #expect(InvokerCommand.serverWords() == Array(CommandLine.arguments.dropFirst()))
    }
}
