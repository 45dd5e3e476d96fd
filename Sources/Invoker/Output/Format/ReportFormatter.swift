// ReportFormatter: one output format of a report. ReportWriter loops over the configured formats
// (ReportFormat) and writes what each one's formatter renders; a new format is one formatter and
// one case of ReportFormat.

import TracerKit

/// Renders a finished report as the content of one report file.
///
/// The contract: `render` reads only the report and the options it was made with (no file, no
/// process, no clock), so the same report renders to the same text, in a crash run, in
/// `invoker show` and in a test.
protocol ReportFormatter {
    /// The report file's whole content.
    func render(_ report: CrashReport) -> String

    /// The same as UTF-8 bytes, as the file gets them (a formatter whose writer makes bytes
    /// gives them as they are).
    func renderBytes(_ report: CrashReport) -> [UInt8]
}

extension ReportFormatter {
    func renderBytes(_ report: CrashReport) -> [UInt8] { Array(render(report).utf8) }
}

/// What a formatter may need besides the report: set once per run from the configuration.
struct ReportFormatOptions {
    /// "crash" or "snapshot": the report's kind (and its files' prefix).
    var kind = "crash"
    /// This invoker's version, which the report names as its writer.
    var helperVersion = InvokerCommand.version
    /// The text log's thread layout; nil for the server's (log_layout = "auto").
    var layout: LogLayout? = nil
    /// Threads with identical stacks printed once in the text log (group_threads).
    var groupThreads = true
}
