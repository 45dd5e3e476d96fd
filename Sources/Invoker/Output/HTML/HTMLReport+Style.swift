// HTMLReport+Style: the page's only styling, inline. One column that wraps on a phone, wide
// tables and long lines scroll inside their box, colours that work in light and dark mode.

extension HTMLReport {
    static let style = """
        :root { color-scheme: light dark; --muted: #6b6b6b; --line: #8884; --warn: #b3261e; --mark: #fde68a66; }
        body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 0.75rem; overflow-wrap: anywhere; }
        main, section, details, .scroll { max-width: 100%; min-width: 0; }
        h1 { font-size: 1.35rem; overflow-wrap: anywhere; } h2 { font-size: 1.15rem; border-bottom: 1px solid var(--line); margin-top: 1.6rem; }
        h3 { font-size: 1rem; }
        code, pre, .loc, small { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.88em; }
        code, .loc, dd, td, th, li { overflow-wrap: anywhere; }
        pre { white-space: pre-wrap; overflow-x: auto; padding: 0.5rem; border: 1px solid var(--line); }
        small { color: var(--muted); }
        .classification strong { color: var(--warn); font-size: 1.1rem; }
        dl { display: grid; grid-template-columns: minmax(7rem, max-content) 1fr; gap: 0.15rem 1rem; margin: 0.5rem 0; }
        dt { font-weight: 600; } dd { margin: 0; } dt, dd { min-width: 0; }
        nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; }
        ol.frames > li { margin: 0.35rem 0; } .fn { font-weight: 600; } .tag { color: var(--muted); }
        details { margin: 0.3rem 0; } summary { cursor: pointer; overflow-wrap: anywhere; }
        .scroll { overflow-x: auto; } table { border-collapse: collapse; margin: 0.3rem 0; }
        th, td { text-align: left; vertical-align: top; padding: 0.15rem 0.6rem 0.15rem 0; border-bottom: 1px solid var(--line); }
        tr.fault { background: var(--mark); } tr.fault strong, .flag, .stop { color: var(--warn); }
        footer { color: var(--muted); margin-top: 2rem; }
        @media (max-width: 40rem) { body { font-size: 14px; padding: 0.5rem; } dl { grid-template-columns: 1fr; } dd { margin-left: 1rem; } }
        """
}
