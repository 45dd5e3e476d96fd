// HTMLReport: a JSON report as one self-contained HTML page (`invoker show --html`): the fault and
// its classification at the top, the crashing thread with its frames, source locations, variables
// and registers, the other threads in groups of identical stacks (collapsed, with counts), then
// globals, modules, process, system, external tracers' output, problems and timings.
//
// Self-contained and inert: inline CSS, no script, no external resource, and a Content Security
// Policy (default-src 'none') that would stop any that got in; every string from the report goes
// through HTMLEscaping. Semantic markup (headings, lists, tables, <details>) reads in a terminal
// browser (w3m, lynx) as well as on a phone (one column, wrapping, a viewport meta tag).

import TracerKit

struct HTMLReport {
    let document: ReportDocument

    /// The whole page.
    func render() -> String {
        var page = HTMLPage()
        page.raw("""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(HTMLEscaping.escape(title))</title>
            <style>\(Self.style)</style>
            </head>
            <body>

            """)
        renderSummary(&page)
        renderContents(&page)
        page.raw("<main>\n")
        renderThreads(&page)
        renderGlobals(&page)
        renderModules(&page)
        renderProcess(&page)
        renderSections(&page)
        renderTracers(&page)
        renderProblemsAndTiming(&page)
        page.raw("</main>\n<footer><p>")
        page.text("Rendered by invoker \(InvokerCommand.version) from a report by \(document.generator?.name ?? "?") \(document.generator?.version ?? "?") (\(document.schema)).")
        page.raw("</p></footer>\n</body>\n</html>\n")
        return page.html
    }

    var processName: String {
        document.process.name ?? document.process.executable?.split(separator: "/").last.map(String.init) ?? "?"
    }

    var crashingThread: ReportDocument.Thread? { document.threads.first { $0.crashed } }

    /// "SIGSEGV in fixture_crash_segv: ats-crasher [1234]".
    var title: String {
        var parts: [String] = []
        if let signal = document.fault?.signal { parts.append(signal.name) } else { parts.append(document.kind ?? "report") }
        if let function = crashingThread?.frames.first(where: { $0.function != nil })?.function { parts.append("in \(function)") }
        return parts.joined(separator: " ") + ": \(processName) [\(document.process.pid)]"
    }

    // MARK: the top of the page

    private func renderSummary(_ page: inout HTMLPage) {
        page.raw("<header>\n<h1>")
        page.text(title)
        page.raw("</h1>\n")
        let fault = document.fault
        if let classification = fault?.classification {
            page.raw("<p class=\"classification\"><strong>")
            page.text(classification.summary)
            page.raw("</strong> <small>(")
            page.text(classification.kind)
            page.raw(")</small></p>\n")
            if !classification.evidence.isEmpty {
                page.list(classification.evidence)
            }
        }
        var facts: [(String, String)] = []
        if let signal = fault?.signal {
            facts.append(("Signal", "\(signal.name) (\(signal.number)), \(signal.description)"
                + (fault?.code.map { ": \($0.meaning)" } ?? "")))
        }
        if let address = fault?.address { facts.append(("Fault address", address)) }
        if let sender = fault?.sender { facts.append(("Sent by", "pid \(sender.pid), uid \(sender.uid)")) }
        if let thread = crashingThread { facts.append(("Crashing thread", "TID \(thread.tid), \(thread.name)")) }
        facts.append(("Process", "\(processName) [\(document.process.pid)]"))
        if let executable = document.process.executable { facts.append(("Executable", executable)) }
        if let time = document.time { facts.append(("Time", time)) }
        if let host = document.host { facts.append(("Host", host.hostname + (host.triplet.map { " (\($0))" } ?? ""))) }
        if let kind = document.kind { facts.append(("Kind", kind)) }
        if let payload = fault?.payload { facts.append(("Payload", payload)) }
        page.definitions(facts)
        if fault == nil { page.raw("<p>No fault: a live snapshot, or the crash payload was not read.</p>\n") }
        page.raw("</header>\n")
    }

    private func renderContents(_ page: inout HTMLPage) {
        var entries: [(String, String)] = [("threads", "Threads (\(document.threads.count))")]
        if !(document.globals ?? []).isEmpty { entries.append(("globals", "Global variables")) }
        if !document.modules.isEmpty { entries.append(("modules", "Modules (\(document.modules.count))")) }
        entries.append(("process", "Process"))
        for (id, section) in sortedSections where id != "process" { entries.append(("section-\(Self.anchor(id))", section.title)) }
        if !document.tracers.isEmpty { entries.append(("tracers", "Tracers")) }
        entries.append(("problems", "Problems (\(document.problems.count))"))
        entries.append(("timing", "Timing"))
        page.raw("<nav><ul>\n")
        for (id, label) in entries {
            page.raw("<li><a href=\"#\(id)\">")
            page.text(label)
            page.raw("</a></li>\n")
        }
        page.raw("</ul></nav>\n")
    }

    /// The sections by id, the process section first (it continues the Process heading).
    var sortedSections: [(String, ReportDocument.Section)] {
        document.sections.sorted { ($0.key == "process" ? 0 : 1, $0.key) < ($1.key == "process" ? 0 : 1, $1.key) }
    }

    /// An id made of [a-z0-9-] only (section ids are the report's, so never trusted in markup).
    static func anchor(_ text: String) -> String {
        String(text.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
    }
}
