// HTMLReport+Threads: the crashing thread in full (frames, source locations, variables with the
// pointer at the fault address highlighted, registers), then the other threads in groups of
// identical stacks (ThreadGrouping, as the text log groups them), each collapsed with its count.

import TracerKit

extension HTMLReport {
    func renderThreads(_ page: inout HTMLPage) {
        page.raw("<section id=\"threads\">\n")
        let threads = document.threads.map(\.threadReport)
        let groups = ThreadGrouping.groups(of: threads)
        if let crashing = groups.first(where: \.isCrashing) {
            let thread = document.threads[crashing.members[0]]
            page.raw("<h2 id=\"crashing\">")
            page.text("Crashing thread (TID \(thread.tid), \(thread.name))")
            page.raw("</h2>\n")
            renderFrames(thread, openVariables: true, &page)
            if let registers = document.fault?.registers, !registers.isEmpty {
                page.collapsible("Registers at the fault (\(registers.count))") { page in
                    page.table(["register", "value"], Self.registerOrder(registers).map { [$0, registers[$0]!] }, cssClass: "registers")
                }
            }
        } else if document.threads.isEmpty {
            page.raw("<h2>Threads</h2>\n<p>No stacks: the target's threads could not be stopped (see Problems).</p>\n")
        }
        let others = groups.filter { !$0.isCrashing }
        if !others.isEmpty {
            let count = others.reduce(0) { $0 + $1.count }
            page.raw("<h2 id=\"other-threads\">")
            page.text("\(crashingThread == nil ? "Threads" : "Other threads"): \(count) in \(others.count) \(others.count == 1 ? "group" : "groups") of identical stacks")
            page.raw("</h2>\n")
            for group in others { renderGroup(group, threads, &page) }
        }
        page.raw("</section>\n")
    }

    private func renderGroup(_ group: ThreadGroup, _ threads: [ThreadReport], _ page: inout HTMLPage) {
        let members = group.members.map { document.threads[$0] }
        let first = members[0]
        let top = Self.stackSummary(first.frames)
        let who = group.count == 1 ? "Thread \(first.tid), \(first.name)"
            : "\(group.count) threads: \(ThreadGrouping.compressedNames(members.map(\.name)))"
        page.collapsible("\(who) — \(top)") { page in
            if group.count > 1 {
                page.raw("<p>")
                page.text("TIDs \(ThreadGrouping.compressedTIDs(members.map(\.tid))) (in the order of the names above).")
                page.raw("</p>\n")
            }
            renderFrames(first, openVariables: false, &page)
        }
    }

    /// "__GI___libc_read ← fixture_worker_level_1": the innermost function, and the first one
    /// in another module (where a library call was made from), when there is one.
    static func stackSummary(_ frames: [ReportDocument.Frame]) -> String {
        guard let innermost = frames.first(where: { $0.function != nil }) else { return frames.first?.pc ?? "no frames" }
        guard let caller = frames.first(where: { $0.function != nil && $0.module != innermost.module }) else { return innermost.function! }
        return innermost.function! + " ← " + caller.function!
    }

    /// The frames as an ordered list from 0, innermost first.
    func renderFrames(_ thread: ReportDocument.Thread, openVariables: Bool, _ page: inout HTMLPage) {
        guard !thread.frames.isEmpty else {
            page.raw("<p>No frames.</p>\n")
            return
        }
        page.raw("<ol class=\"frames\" start=\"0\">\n")
        for frame in thread.frames {
            page.raw("<li>")
            page.element("code", frame.function ?? "<unknown>", cssClass: "fn")
            if let offset = frame.functionOffset, !frame.inlined { page.text(" + \(offset)") }
            if frame.inlined { page.raw(" <span class=\"tag\">[inlined]</span>") }
            if frame.signalFrame { page.raw(" <span class=\"tag\">[signal frame]</span>") }
            if let file = frame.file {
                page.raw("<br>at ")
                page.element("span", file + (frame.line.map { ":\($0)" } ?? "") + (frame.column.map { ":\($0)" } ?? ""), cssClass: "loc")
            }
            page.raw("<br><small>")
            page.text("pc \(frame.pc)")
            if let module = frame.module { page.text(" in \(module)" + (frame.moduleOffset.map { " +\($0)" } ?? "")) }
            page.text(" (\(frame.recovery))")
            page.raw("</small>\n")
            if let variables = frame.variables, !variables.isEmpty {
                let pointsAtFault = variables.contains(where: isFaultPointer)
                let summary = "\(variables.count) \(variables.count == 1 ? "variable" : "variables")"
                    + (pointsAtFault ? " — one points at the fault address" : "")
                page.collapsible(summary, open: openVariables && (pointsAtFault || frame.index == thread.frames.first?.index)) { page in
                    renderVariables(variables, &page)
                }
            }
            page.raw("</li>\n")
        }
        page.raw("</ol>\n")
        if let stop = thread.unwindStop {
            page.raw("<p class=\"stop\">")
            page.text("Stack ends: \(stop)")
            page.raw("</p>\n")
        }
    }

    func renderVariables(_ variables: [ReportDocument.Variable], _ page: inout HTMLPage) {
        page.raw("<div class=\"scroll\"><table class=\"variables\">\n<thead><tr><th>name</th><th>value</th><th>type</th><th>note</th></tr></thead>\n<tbody>\n")
        for variable in variables {
            let fault = isFaultPointer(variable)
            page.raw(fault ? "<tr class=\"fault\">" : "<tr>")
            page.element("th", variable.name)
            page.raw("<td><code>")
            page.text(variable.value ?? "<\(variable.note ?? "unavailable")>")
            page.raw("</code>")
            if let pointee = variable.pointee {
                page.raw(" → <code>")
                page.text(pointee)
                page.raw("</code>")
            }
            page.raw("</td>")
            let kind = variable.kind == "local" ? "" : "\(variable.kind), "
            page.element("td", kind + variable.type + (variable.scope.map { ", in \($0)" } ?? ""))
            page.raw("<td>")
            if fault { page.raw("<strong>⚠ ") }
            page.text(variable.value != nil ? variable.note ?? "" : "")
            if fault { page.raw("</strong>") }
            page.raw("</td></tr>\n")
        }
        page.raw("</tbody></table></div>\n")
    }

    /// A pointer the variables tracer marked as pointing at the faulting address, or whose value
    /// is that address.
    func isFaultPointer(_ variable: ReportDocument.Variable) -> Bool {
        if variable.note?.contains("faulting address") == true { return true }
        guard let address = document.fault?.address, let value = variable.value, value.hasPrefix(address) else { return false }
        let rest = value.dropFirst(address.count)
        return rest.isEmpty || rest.first == " "
    }

    /// Registers pc and stack first, then as traffic_crashlog lists them; unknown ones after.
    static func registerOrder(_ registers: [String: String]) -> [String] {
        let known = ["rip", "rsp", "rbp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
                     "r14", "r15", "eflags", "cs", "err", "trapno", "cr2"]
        return known.filter { registers[$0] != nil } + registers.keys.filter { !known.contains($0) }.sorted()
    }
}
