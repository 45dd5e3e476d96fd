// HTMLReport+Sections: everything after the threads: globals, modules, the process (argv and the
// process collector's fields), the other collectors' sections (system), each external tracer with
// its command, outcome and output, the problems and the timing notes.

extension HTMLReport {
    func renderGlobals(_ page: inout HTMLPage) {
        guard let globals = document.globals, !globals.isEmpty else { return }
        page.raw("<section id=\"globals\">\n<h2>Global variables</h2>\n")
        renderVariables(globals, &page)
        page.raw("</section>\n")
    }

    func renderModules(_ page: inout HTMLPage) {
        let modules = document.modules
        guard !modules.isEmpty else { return }
        page.raw("<section id=\"modules\">\n<h2>Modules</h2>\n")
        page.collapsible("\(modules.count) loaded modules") { page in
            page.table(["path", "range", "build-id"], modules.map { [$0.path, "\($0.start)–\($0.end)", $0.buildId ?? "-"] })
        }
        page.raw("</section>\n")
    }

    func renderProcess(_ page: inout HTMLPage) {
        page.raw("<section id=\"process\">\n<h2>Process</h2>\n")
        let process = document.process
        page.definitions([("pid", String(process.pid)), ("name", processName), ("executable", process.executable ?? "?")])
        if !process.commandLine.isEmpty {
            page.raw("<h3>Command line</h3>\n<ol class=\"argv\" start=\"0\">\n")
            for word in process.commandLine {
                page.raw("<li><code>")
                page.text(word)
                page.raw("</code></li>\n")
            }
            page.raw("</ol>\n")
        }
        if let section = document.sections["process"] { renderSectionBody(section, &page) }
        page.raw("</section>\n")
    }

    /// The collectors' sections but the process one (rendered under Process).
    func renderSections(_ page: inout HTMLPage) {
        for (id, section) in sortedSections where id != "process" {
            page.raw("<section id=\"section-\(Self.anchor(id))\">\n<h2>")
            page.text(section.title)
            page.raw("</h2>\n")
            renderSectionBody(section, &page)
            page.raw("</section>\n")
        }
    }

    private func renderSectionBody(_ section: ReportDocument.Section, _ page: inout HTMLPage) {
        renderFields(section.fields, &page)
        if let problems = section.problems, !problems.isEmpty {
            page.raw("<p>Could not be read:</p>\n")
            page.list(problems)
        }
    }

    /// Fields as a definition list; a {value, flag} pair shows its flag; a long list (the
    /// environment, descriptors) and a nested group are collapsible.
    private func renderFields(_ fields: [String: JSONValue], _ page: inout HTMLPage) {
        page.raw("<dl>\n")
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            page.element("dt", key)
            page.raw("<dd>")
            if case .object(let inner) = value, inner.count == 2, let flagged = inner["value"], case .string(let flag)? = inner["flag"] {
                renderValue(flagged, key: key, &page)
                page.raw(" <strong class=\"flag\">")
                page.text("⚠ \(flag)")
                page.raw("</strong>")
            } else {
                renderValue(value, key: key, &page)
            }
            page.raw("</dd>\n")
        }
        page.raw("</dl>\n")
    }

    private func renderValue(_ value: JSONValue, key: String, _ page: inout HTMLPage) {
        switch value {
        case .string(let text): page.text(text)
        case .integer(let number): page.text(String(number))
        case .number(let number): page.text(String(number))
        case .bool(let flag): page.text(flag ? "yes" : "no")
        case .null: page.text("—")
        case .array(let items):
            let texts = items.map { item -> String in
                if case .string(let text) = item { return text }
                if case .integer(let number) = item { return String(number) }
                return "\(item)"
            }
            if texts.isEmpty { page.text("(none)"); return }
            page.collapsible("\(texts.count) \(texts.count == 1 ? "entry" : "entries")", open: texts.count <= 8) { page in
                page.raw("<ul class=\"entries\">\n")
                for text in texts {
                    page.raw("<li><code>")
                    page.text(text)
                    page.raw("</code></li>\n")
                }
                page.raw("</ul>\n")
            }
        case .object(let inner):
            page.collapsible("\(inner.count) \(inner.count == 1 ? "field" : "fields")", open: inner.count <= 8) { page in
                renderFields(inner, &page)
            }
        }
    }

    func renderTracers(_ page: inout HTMLPage) {
        let tracers = document.tracers
        guard !tracers.isEmpty else { return }
        page.raw("<section id=\"tracers\">\n<h2>Tracers</h2>\n")
        let rows = tracers.map { [$0.name, String(format: $0.seconds) + " s", $0.outcome] }
        page.table(["tracer", "time", "outcome"], rows)
        for tracer in tracers where tracer.command != nil || tracer.output != nil {
            page.raw("<h3>")
            page.text(tracer.name)
            page.raw("</h3>\n")
            if let command = tracer.command {
                page.raw("<p>Command: <code>")
                page.text(command.joined(separator: " "))
                page.raw("</code></p>\n")
            }
            page.raw("<p>")
            page.text(tracer.outcome + (tracer.exitStatus.map { ", exit status \($0)" } ?? ""))
            page.raw("</p>\n")
            if let output = tracer.output, !output.isEmpty {
                let lines = output.split(separator: "\n", omittingEmptySubsequences: false).count
                page.collapsible("Output (\(lines) lines)", open: lines <= 40) { $0.preformatted(output) }
            }
        }
        page.raw("</section>\n")
    }

    func renderProblemsAndTiming(_ page: inout HTMLPage) {
        page.raw("<section id=\"problems\">\n<h2>Problems</h2>\n")
        let problems = document.problems
        if problems.isEmpty { page.raw("<p>None: nothing degraded the report.</p>\n") } else { page.list(problems) }
        page.raw("</section>\n<section id=\"timing\">\n<h2>Timing</h2>\n")
        page.list(document.timing)
        page.raw("</section>\n")
    }
}
