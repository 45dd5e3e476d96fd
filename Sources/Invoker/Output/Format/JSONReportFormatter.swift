// JSONReportFormatter: the JSON report (schema invoker-report/1) as a format: the report's
// ReportDocument, encoded. What other tools (a crash database, a forwarder) read.

import TracerKit

/// The `json` format.
struct JSONReportFormatter: ReportFormatter {
    var options: ReportFormatOptions

    func render(_ report: CrashReport) -> String {
        String(decoding: renderBytes(report), as: UTF8.self)
    }

    func renderBytes(_ report: CrashReport) -> [UInt8] {
        ReportDocument(report: report, kind: options.kind, helperVersion: options.helperVersion).encoded()
    }
}
