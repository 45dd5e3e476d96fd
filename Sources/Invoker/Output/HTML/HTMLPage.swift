// HTMLPage: the HTML view's builder. Markup is written with `raw` (our own literals only); text
// from the report is written with `text` and the helpers below, which all escape it.

struct HTMLPage {
    private(set) var html = ""

    /// Our own markup, never report text.
    mutating func raw(_ markup: String) { html += markup }

    /// Report text, escaped.
    mutating func text(_ text: String) { html += HTMLEscaping.escape(text) }

    /// <tag class="…">text</tag>; `cssClass` is one of our own class names.
    mutating func element(_ tag: String, _ text: String, cssClass: String? = nil) {
        raw("<\(tag)" + (cssClass.map { " class=\"\($0)\"" } ?? "") + ">")
        self.text(text)
        raw("</\(tag)>")
    }

    mutating func list(_ items: [String]) {
        raw("<ul>\n")
        for item in items { element("li", item); raw("\n") }
        raw("</ul>\n")
    }

    /// A definition list of label: value pairs.
    mutating func definitions(_ pairs: [(String, String)]) {
        raw("<dl>\n")
        for (label, value) in pairs {
            element("dt", label)
            element("dd", value)
            raw("\n")
        }
        raw("</dl>\n")
    }

    /// A table with a header row; cells are report text.
    mutating func table(_ header: [String], _ rows: [[String]], cssClass: String? = nil) {
        raw("<div class=\"scroll\"><table" + (cssClass.map { " class=\"\($0)\"" } ?? "") + ">\n<thead><tr>")
        for cell in header { element("th", cell) }
        raw("</tr></thead>\n<tbody>\n")
        for row in rows {
            raw("<tr>")
            for cell in row { element("td", cell) }
            raw("</tr>\n")
        }
        raw("</tbody></table></div>\n")
    }

    /// Verbatim text (a tracer's output), escaped.
    mutating func preformatted(_ text: String) {
        raw("<pre>")
        self.text(text)
        raw("</pre>\n")
    }

    /// <details><summary>…</summary> … </details> around what `body` writes.
    mutating func collapsible(_ summary: String, open: Bool = false, _ body: (inout HTMLPage) -> Void) {
        raw(open ? "<details open><summary>" : "<details><summary>")
        text(summary)
        raw("</summary>\n")
        body(&self)
        raw("</details>\n")
    }
}
