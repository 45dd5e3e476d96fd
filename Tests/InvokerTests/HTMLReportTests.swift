// The HTML view on constructed reports: whatever the server put in its thread names, argv,
// environment, tracer output or variables reaches the page as text only; the page is
// self-contained; the pointer at the fault address is highlighted; `invoker show` finds the
// report meant (latest, a name, a path). The real browser checks are in ReportViewTests.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing
import TracerKit
@testable import Invoker

/// A report whose every untrusted string carries markup.
func hostileReport() -> CrashReport {
    var report = constructedServerReport()
    report.commandLine = ["/usr/bin/server", "--name=\"><img src=x onerror=alert(1)>"]
    report.threads[1].name = "<script>x"
    report.threads[0].frames[0].variables = [
        Variable(name: "request", kind: "local", type: "char *", value: "0x0", note: "points at the faulting address 0x0"),
        Variable(name: "label", kind: "local", type: "const char *", value: "0x5000 \"</td><script>alert(2)</script>\""),
    ]
    report.tracerRuns = [TracerRun(name: "gdb", command: ["/usr/bin/gdb", "-p", "100"], seconds: 1.5, exitStatus: 0,
                                   outcome: "exited with status 0", output: "\u{1b}[31mred\u{1b}[0m <iframe src=//evil>\u{202E}txt.exe\n")]
    report.sections = [ReportSection(id: "process", title: "Process Details", fields: [
        Field("environment", .list(["PATH=/bin", "EVIL=<svg onload=alert(3)>"])),
        Field("open_descriptors", .integer(90), flag: "at 90 % of the open files limit (100)"),
    ])]
    report.problems = ["<b>not bold</b>"]
    return report
}

/// A report rendered to JSON, decoded, and rendered to HTML, as `invoker show --html` does.
func htmlPage(_ report: CrashReport, fault: FaultContext? = nil) throws -> String {
    var report = report
    report.fault = fault ?? report.fault
    let json = JSONReportFormatter(options: ReportFormatOptions(kind: "crash", helperVersion: "test")).render(report)
    return HTMLReport(document: try ReportDocument.decode(Array(json.utf8))).render()
}

@Suite(.timeLimit(.minutes(1))) struct HTMLReportTests {
    @Test func untrustedTextIsEscapedAndThePageLoadsNothing() throws {
        let page = try htmlPage(hostileReport())
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"))
        for markup in ["<script", "<img", "<iframe", "<svg", "<b>", "\u{1b}", "\u{202E}"] {
            #expect(!page.lowercased().contains(markup.lowercased()), "\(markup) reached the page unescaped")
        }
        // Every tag on the page is one of ours, with our attributes only.
        let tags = Set(["html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "strong", "small", "ul",
                        "ol", "li", "dl", "dt", "dd", "nav", "a", "main", "section", "code", "span", "br", "details", "summary",
                        "div", "table", "thead", "tbody", "tr", "th", "td", "pre", "footer"])
        let attributes = Set(["lang", "charset", "http-equiv", "content", "name", "href", "class", "id", "start", "open"])
        let found = page.matches(of: try Regex("<([a-zA-Z][a-zA-Z0-9]*)((?:\\s+[a-z-]+(?:=\"[^\"]*\")?)*)\\s*>"))
        // Every "<" but the doctype's and the closing tags' starts one of these (text has none).
        let opening = page.filter { $0 == "<" }.count - (page.components(separatedBy: "</").count - 1) - 1
        #expect(found.count > 100 && found.count == opening)
        for match in found {
            let name = String(match.output[1].substring ?? "")
            #expect(tags.contains(name.lowercased()), "<\(name)> is not one of the page's tags")
            let attributeText = String(match.output[2].substring ?? "")
            for attribute in attributeText.matches(of: try Regex("([a-z-]+)(?:=\"[^\"]*\")?")) {
                #expect(attributes.contains(String(attribute.output[1].substring ?? "")), "\(attribute.output[0].substring ?? "")")
            }
        }
        // Links are in-page anchors only.
        #expect(page.components(separatedBy: "href=\"").dropFirst().allSatisfy { $0.hasPrefix("#") })
        for escaped in ["&lt;script&gt;x", "--name=&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
                        "&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;", "␛[31mred␛[0m &lt;iframe src=//evil&gt;&lt;U+202E&gt;txt.exe",
                        "EVIL=&lt;svg onload=alert(3)&gt;", "&lt;b&gt;not bold&lt;/b&gt;"] {
            #expect(page.contains(escaped), "\(escaped) is not on the page")
        }
    }

    @Test func crashingThreadVariablesAndGroupsAreThere() throws {
        let page = try htmlPage(hostileReport())
        #expect(page.contains("<h2 id=\"crashing\">Crashing thread (TID 100, [TS_MAIN])</h2>"))
        #expect(page.contains("<code class=\"fn\">crash_here</code>"))
        // The pointer at the fault address: its row highlighted, and its frame's variables open.
        #expect(page.contains("<tr class=\"fault\"><th>request</th>"))
        #expect(page.contains("<details open><summary>2 variables — one points at the fault address</summary>"))
        // The renamed thread still has the event threads' stack: in their group, its name escaped.
        #expect(page.contains("<details><summary>84 threads: &lt;script&gt;x, [ET_NET 0..82] — epoll_wait</summary>"))
        #expect(page.contains("TIDs 1283, 1200-1282 (in the order of the names above)."))
        #expect(page.contains("Other threads: 88 in 4 groups of identical stacks"))
        #expect(page.contains("at 90 % of the open files limit (100)"))
        #expect(page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
    }

    @Test func aMinimalReportRenders() throws {
        let json = #"{"schema": "invoker-report/1", "process": {"pid": 7}, "threads": [], "future_field": {"x": 1}}"#
        let page = HTMLReport(document: try ReportDocument.decode(Array(json.utf8))).render()
        #expect(page.contains("No stacks: the target's threads could not be stopped"))
        #expect(page.hasSuffix("</html>\n"))
    }

    @Test func showFindsTheReportMeant() throws {
        let directory = makeTemporaryDirectory()
        for (name, time) in [("crash-2026-01-01-000000", 100), ("snapshot-2026-01-02-000000", 300), ("crash-2026-01-03-000000", 200)] {
            for ext in [".json", ".log"] {
                let path = directory + "/" + name + ext
                _ = AtomicFile.write("{}".utf8, directory: directory, name: name + ext, mode: 0o600)
                var times = [timespec(tv_sec: time, tv_nsec: 0), timespec(tv_sec: time, tv_nsec: 0)]
                utimensat(AT_FDCWD, path, &times, 0)
            }
        }
        #expect(try ReportReference("latest").resolve(in: directory).jsonPath == directory + "/snapshot-2026-01-02-000000.json")
        #expect(try ReportReference("crash-2026-01-01-000000").resolve(in: directory)
                == .init(jsonPath: directory + "/crash-2026-01-01-000000.json", textPath: directory + "/crash-2026-01-01-000000.log"))
        #expect(try ReportReference(directory + "/crash-2026-01-03-000000.log").resolve(in: "/nonexistent").jsonPath
                == directory + "/crash-2026-01-03-000000.json")
        let empty = makeTemporaryDirectory()
        #expect(throws: ShowError.self) { try ReportReference("latest").resolve(in: empty) }
        #expect(ShowError.noReports(directory: empty).description.hasPrefix("no report (crash-*.json or snapshot-*.json) in \(empty)"))
    }
}
