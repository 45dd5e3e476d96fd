// ListCommand: `invoker list [--since WHEN] [--fingerprint FP] [--json]`: the indexed crash
// reports, oldest first: time, pid, executable, signal, fault, fingerprint, the group's count.

import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import TracerKit

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the crash reports in the crash store.")

    @OptionGroup var store: StoreOptions

    @Option(name: .long, help: ArgumentHelp("Only reports since then: 2h, 30m, 7d, a date (2026-12-01 or \"2026-12-01 10:00\") or seconds since the epoch.",
                                            valueName: "when"))
    var since: String?

    @Option(name: .long, help: "Only reports of this fingerprint (a prefix is enough, with or without fp1:).")
    var fingerprint: String?

    @Flag(name: .long, help: "Print JSON (an array of reports) instead of a table.")
    var json = false

    func run() throws {
        let sinceTime: Int?
        if let since {
            guard let parsed = Self.parseTime(since, now: Int(time(nil))) else {
                throw ValidationError("--since \(since): use 2h, 30m, 7d, 2026-12-01, \"2026-12-01 10:00\" or seconds since the epoch")
            }
            sinceTime = parsed
        } else {
            sinceTime = nil
        }
        guard let crashStore = try store.openStore(readOnly: true) else { return }
        let reports = try storeOperation { () throws(StoreError) in try crashStore.reports(since: sinceTime, fingerprint: fingerprint) }
        if json {
            print(Self.encode(reports))
            return
        }
        let withSentry = reports.contains { $0.sentry != nil }
        var table = TextTable(header: ["ID", "TIME", "PID", "EXECUTABLE", "SIGNAL", "FAULT", "FINGERPRINT", "COUNT", "STATE"]
                              + (withSentry ? ["SENTRY"] : []))
        for report in reports {
            table.rows.append([
                String(report.id), CrashLogWriter.format(time: report.time, "%Y-%m-%d %H:%M:%S"), String(report.pid),
                report.executable.split(separator: "/").last.map(String.init) ?? report.executable,
                report.signal.map(Self.signalName) ?? "-", report.faultKind ?? "-",
                String(report.fingerprint.prefix(Fingerprint.rule.count + 1 + 12)), String(report.groupCount),
                report.state + (report.compact ? " (compact)" : ""),
            ] + (withSentry ? [report.sentry ?? "-"] : []))
        }
        print(table.render(), terminator: "")
    }

    /// "SIGSEGV" for 11.
    static func signalName(_ number: Int32) -> String {
        SignalInfo.name(of: number)
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// A time as --since takes it, in seconds since the epoch; nil if it is none of the forms.
    static func parseTime(_ text: String, now: Int) -> Int? {
        if let seconds = Int(text) { return seconds }
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400]
        if let unit = text.last, let scale = units[unit], let amount = Int(text.dropLast()), amount >= 0 {
            return now - amount * scale
        }
        // YYYY-MM-DD, optionally HH:MM or HH:MM:SS after a space or a T, local time.
        let numbers = text.split(whereSeparator: { $0 == "-" || $0 == " " || $0 == "T" || $0 == ":" }).map { Int($0) }
        guard [3, 5, 6].contains(numbers.count), numbers.allSatisfy({ $0 != nil }), text.count >= 10 else { return nil }
        let values = numbers.map { $0! } + [0, 0, 0]
        var parts = tm()
        parts.tm_year = Int32(values[0] - 1900); parts.tm_mon = Int32(values[1] - 1); parts.tm_mday = Int32(values[2])
        parts.tm_hour = Int32(values[3]); parts.tm_min = Int32(values[4]); parts.tm_sec = Int32(values[5])
        parts.tm_isdst = -1
        guard (1...12).contains(values[1]), (1...31).contains(values[2]), values[3] < 24, values[4] < 60, values[5] < 61 else { return nil }
        return Int(mktime(&parts))
    }
}
