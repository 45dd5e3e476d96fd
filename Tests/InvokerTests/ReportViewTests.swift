// Reports a person can read at hundreds of threads, end to end: a crash of the fixture with 256
// identical workers and one odd thread (named "<script>x") gives a text log with one group of
// 256 and the odd thread in full, a JSON report whose groups add up to its threads, and
// `invoker show` views of it: every thread in full, and an HTML page that Debian's chromium,
// headless, loads with no console message and no request but the page, showing the crashing
// function, a variable's value and the hostile thread name as text. Screenshots are kept in a
// temporary directory whose path the test prints.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

/// What Tests/Browser/browser-check.py saw in chromium.
struct BrowserVisit: Decodable {
    var requests: [String]
    var console: [String]
    var text: String
    var scripts: Int
    var screenshots: [String]

    /// Opens `page` in headless chromium; screenshots go to SCREENSHOT.png and SCREENSHOT-phone.png.
    static func open(_ page: String, screenshot: String) throws -> BrowserVisit {
        let directory = makeTemporaryDirectory()
        let checker = try TestProcess("/usr/bin/python3", [packageRoot + "/Tests/Browser/browser-check.py", page, screenshot],
                                      outputPath: directory + "/visit.json")
        let status = checker.waitForExit()
        let output = readFile(directory + "/visit.json") ?? ""
        guard status == 0, let visit = try? JSONDecoder().decode(BrowserVisit.self, from: Data(output.utf8)) else {
            throw TestProcessError(message: "browser-check failed (status \(status)): \(output)")
        }
        return visit
    }
}

/// Runs the fixture with `threads` workers and the odd thread, crashing in segv mode.
func crashWithOddThread(threads: Int, helperArguments: [String] = []) throws -> (directory: String, status: Int32) {
    let directory = makeTemporaryDirectory()
    adoptOrphans()
    let crasher = try TestProcess(builtProduct("ats-crasher"), [
        "--helper", builtProduct("invoker"), "--payload", "10.2", "--threads", String(threads), "--odd", "<script>x",
        "--", "--log-dir", directory,
    ] + helperArguments, outputPath: directory + "/output.txt")
    let status = crasher.waitForExit()
    // With early release the helper finishes the report after the server is gone: wait for it.
    reapAllChildren()
    return (directory, status)
}

/// Debian's chromium, which scripts/install-deps installs.
let browserMissing = access("/usr/bin/chromium", X_OK) != 0

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct ReportViewTests {
    /// Screenshots are test artifacts: kept, and their directory printed.
    static let artifacts = makeTemporaryDirectory("invoker-report-view")

    @Test func twoHundredFiftySixThreadsGroupedInTheLogTheJSONAndTheBrowser() throws {
        let (directory, status) = try crashWithOddThread(threads: 256)
        #expect(status & 0x7f == SIGSEGV)
        let names = directoryEntries(directory)
        let logName = try #require(names.first { $0.hasPrefix("crash-") && $0.hasSuffix(".log") })
        let text = try #require(readFile(directory + "/" + logName))
        let log = CrashLog(text)

        // The text log: the crashing thread alone, the odd thread in full, one group of 256 last.
        #expect(log.crashingThread?.functions.prefix(2) == ["fixture_crash_segv", "fixture_crash_middle"])
        let odd = try #require(log.threads(named: "<script>x").first)
        #expect(odd.functions.containsRun(["fixture_odd_wait", "fixture_odd_main"]), "\(odd.lines)")
        #expect(text.contains("Thread (TID \(odd.tid), <script>x):"))
        #expect(log.groups.count == 1)
        let group = try #require(log.groups.first)
        #expect(group.count == 256 && group.count >= 250)
        #expect(group.names == "worker-0..255")
        #expect(group.functions.containsRun(ATSHandshakeTests.workerStack))
        #expect(text.range(of: "Thread (TID \(odd.tid)")!.lowerBound < text.range(of: "256 threads (TIDs ")!.lowerBound)
        #expect(log.threads.count == 258)
        #expect(Set(log.threads.map(\.tid)).count == 258)

        // The JSON: every thread, each with its group; the groups add up to the thread count.
        let jsonPath = directory + "/" + logName.dropLast(".log".count) + ".json"
        let json = try #require(try JSONSerialization.jsonObject(with: Data((readFile(jsonPath) ?? "").utf8)) as? [String: Any])
        let threads = try #require(json["threads"] as? [[String: Any]])
        let groups = try #require(json["thread_groups"] as? [[String: Any]])
        #expect(threads.count == 258)
        #expect(groups.compactMap { $0["count"] as? Int }.reduce(0, +) == threads.count)
        #expect(groups.compactMap { $0["count"] as? Int } == [1, 1, 256])
        #expect(threads.allSatisfy { thread in groups.contains { $0["id"] as? Int == thread["group"] as? Int } })
        #expect(try schemaComplaint(reportPath: jsonPath) == nil)
        try expectRoundTrip(jsonPath: jsonPath)

        // invoker show --all-threads: every thread under its own heading, the rest of the log as written.
        let (showStatus, full) = try runInvoker(["show", "--all-threads", "--log-dir", directory, "latest"])
        #expect(showStatus == 0)
        let fullLog = CrashLog(full)
        #expect(fullLog.groups.isEmpty && fullLog.threads.count == 258)
        #expect(fullLog.threads(named: "worker-200").first?.functions == group.functions)
        #expect(full.hasPrefix(String(text.prefix(upTo: text.range(of: "Crashing Thread")!.lowerBound))))
        #expect(full.hasSuffix(String(text[text.range(of: "Process Status:")!.lowerBound...])))

        // invoker show --html, in a real browser.
        let page = Self.artifacts + "/threads-256.html"
        let (htmlStatus, htmlOutput) = try runInvoker(["show", "--html", jsonPath, "-o", page])
        #expect(htmlStatus == 0, "\(htmlOutput)")
        #expect(!browserMissing, "/usr/bin/chromium is missing: run scripts/install-deps")
        if !browserMissing {
            let visit = try BrowserVisit.open(page, screenshot: Self.artifacts + "/threads-256.png")
            #expect(visit.requests == ["file://" + page])
            #expect(visit.console.isEmpty, "\(visit.console)")
            #expect(visit.scripts == 0)
            #expect(visit.text.contains("SIGSEGV in fixture_crash_segv"))
            #expect(visit.text.contains("Thread \(odd.tid), <script>x — __GI___libc_read ← fixture_odd_wait"))
            #expect(visit.text.contains("256 threads: worker-0..255 — __GI___libc_read ← fixture_worker_level_1"))
            #expect(visit.screenshots.allSatisfy { (fileMode($0) ?? 0) != 0 })
            print("ReportViewTests: screenshots of the 256-thread report: \(visit.screenshots.joined(separator: " "))")
        }
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func variablesInTheBrowserWithThePointerAtTheFaultHighlighted() throws {
        let config = try writeConfiguration("[[tracer]]\nuse = \"unwind\"\n\n[[tracer]]\nuse = \"variables\"\n")
        let (directory, status) = try crashWithOddThread(threads: 2, helperArguments: ["--config", config])
        #expect(status & 0x7f == SIGSEGV)
        let page = Self.artifacts + "/variables.html"
        let (htmlStatus, htmlOutput) = try runInvoker(["show", "--html", "--log-dir", directory, "latest", "-o", page])
        #expect(htmlStatus == 0, "\(htmlOutput)")
        let html = try #require(readFile(page))
        #expect(html.contains("<tr class=\"fault\"><th>fixture_null</th><td><code>0x0</code></td>"), "\(html)")
        #expect(html.contains("<th>fixture_value</th><td><code>42</code></td>"))
        #expect(!browserMissing, "/usr/bin/chromium is missing: run scripts/install-deps")
        if !browserMissing {
            let visit = try BrowserVisit.open(page, screenshot: Self.artifacts + "/variables.png")
            #expect(visit.requests == ["file://" + page])
            #expect(visit.console.isEmpty, "\(visit.console)")
            #expect(visit.text.contains("fixture_crash_segv"))
            #expect(visit.text.contains("fixture_value\t42\tint"), "\(visit.text.prefix(3000))")
            #expect(visit.text.contains("⚠ points at the faulting address"))
            #expect(visit.text.contains("<script>x"))
            print("ReportViewTests: screenshots of the report with variables: \(visit.screenshots.joined(separator: " "))")
        }
        #expect(leftoverProcesses().isEmpty)
    }
}
