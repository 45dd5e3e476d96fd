// ReportFormat: the formats `formats` in invoker.conf names. Each case is one formatter and one
// file extension; ReportWriter writes the configured ones in the order of the cases, so the text
// log comes first and, with it on, claims the report's name, as traffic_crashlog's log does.

/// A report format.
enum ReportFormat: String, CaseIterable {
    /// traffic_crashlog's layout, crash-%Y-%m-%d-%H%M%S.log.
    case text
    /// The JSON document (schema invoker-report/1).
    case json

    /// What the report's base name gets in this format.
    var fileExtension: String {
        switch self {
        case .text: ".log"
        case .json: ".json"
        }
    }

    /// The formatter that renders a report in this format.
    func formatter(_ options: ReportFormatOptions) -> any ReportFormatter {
        switch self {
        case .text: TextLogFormatter(options: options)
        case .json: JSONReportFormatter(options: options)
        }
    }

    /// The names an operator may write, as a message lists them (`"text" or "json"`).
    static var namesForMessage: String {
        let names = allCases.map { "\"\($0.rawValue)\"" }
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}
