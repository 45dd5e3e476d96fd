// TextLogFormatter: the text crash log (traffic_crashlog's layout, CrashLogWriter) as a format.

import TracerKit

/// The `text` format: the crash log in the configured thread layout.
struct TextLogFormatter: ReportFormatter {
    var options: ReportFormatOptions

    func render(_ report: CrashReport) -> String {
        CrashLogWriter(report: report, helperVersion: options.helperVersion, layout: options.layout,
                       groupThreads: options.groupThreads).render()
    }
}
