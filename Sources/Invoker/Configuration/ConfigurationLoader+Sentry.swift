// ConfigurationLoader+Sentry: reads and checks the `[sentry]` table (see SentrySettings), with the
// file, line and key of any problem, like the rest of the loader.

import TOMLKit

extension ConfigurationLoader {
    static let sentryKeys = ["dsn", "environment", "release", "server_name", "tags", "send_snapshots", "attachments",
                             "max_event_bytes", "in_app", "outbox", "outbox_max_entries", "outbox_max_bytes",
                             "outbox_max_age_days", "connect_timeout", "timeout"]

    /// The `[sentry]` table, or nil when the file has none.
    static func sentry(_ value: (any TOMLValueConvertible)?, text: String, file: String) throws(ConfigurationError) -> SentrySettings? {
        guard let value else { return nil }
        func fail(_ key: String, _ message: String) -> ConfigurationError {
            ConfigurationError(file: file, line: SourceLocator(text: text).line(of: key, inTable: "sentry"),
                               key: "sentry.\(key)", message: message)
        }
        guard let table = value.table else {
            throw ConfigurationError(file: file, key: "sentry", message: "must be a table: write it as [sentry]")
        }
        for key in table.keys where !sentryKeys.contains(key) {
            throw fail(key, "not a Sentry setting" + suggestion(for: key, among: sentryKeys))
        }
        func string(_ key: String) throws(ConfigurationError) -> String? {
            guard let entry = table[key] else { return nil }
            guard let text = entry.string, !text.isEmpty else { throw fail(key, "must be a non-empty string") }
            return text
        }
        func strings(_ key: String, example: String) throws(ConfigurationError) -> [String]? {
            guard let entry = table[key] else { return nil }
            guard let array = entry.array, let texts = Optional(array.compactMap { $0.string }), texts.count == array.count else {
                throw fail(key, "must be an array of strings, such as \(example)")
            }
            return texts
        }
        func integer(_ key: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let entry = table[key] else { return nil }
            guard let number = entry.int, range.contains(number) else {
                throw fail(key, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        var settings = SentrySettings()
        if let dsn = try string("dsn") {
            do { settings.dsn = try SentryDSN(dsn) } catch { throw fail("dsn", error.description) }
        }
        settings.environment = try string("environment")
        settings.release = try string("release")
        settings.serverName = try string("server_name")
        if let entry = table["tags"] {
            guard let tags = entry.table else { throw fail("tags", "must be a table such as { region = \"eu\" }") }
            for key in tags.keys {
                guard let text = tags[key]?.string else { throw fail("tags", "the value of \(key) must be a string") }
                settings.tags[key] = text
            }
        }
        if let entry = table["send_snapshots"] {
            guard let flag = entry.bool else { throw fail("send_snapshots", "must be true or false") }
            settings.sendSnapshots = flag
        }
        if let names = try strings("attachments", example: "[\"log\", \"json\"]") {
            var attachments: [SentryAttachment] = []
            for name in names {
                guard let attachment = SentryAttachment(rawValue: name) else {
                    throw fail("attachments", "\"\(name)\" is not an attachment; use \"log\" and/or \"json\" (or [] for none)")
                }
                attachments.append(attachment)
            }
            settings.attachments = attachments
        }
        settings.maxEventBytes = try integer("max_event_bytes", 16_384...1_000_000) ?? settings.maxEventBytes
        settings.inApp = try strings("in_app", example: "[\"/usr/bin/traffic_server\", \"libtscore\"]") ?? []
        if let outbox = try string("outbox") {
            guard outbox.hasPrefix("/") else { throw fail("outbox", "must be an absolute path") }
            settings.outbox = outbox
        }
        settings.outboxMaxEntries = try integer("outbox_max_entries", 1...100_000) ?? settings.outboxMaxEntries
        settings.outboxMaxBytes = try integer("outbox_max_bytes", 1 << 20...(1 << 40)) ?? settings.outboxMaxBytes
        settings.outboxMaxAgeDays = try integer("outbox_max_age_days", 1...3650) ?? settings.outboxMaxAgeDays
        for (key, set) in [("connect_timeout", { (s: inout SentrySettings, v: Double) in s.connectTimeout = v }),
                           ("timeout", { (s: inout SentrySettings, v: Double) in s.timeout = v })] {
            guard let entry = table[key] else { continue }
            guard let number = entry.double ?? entry.int.map(Double.init), number > 0, number <= 600 else {
                throw fail(key, "must be a number of seconds from 0 to 600")
            }
            set(&settings, number)
        }
        return settings
    }
}

extension SourceLocator {
    /// The line of `key = …` inside the `[NAME]` table, else of the table's header.
    func line(of key: String, inTable name: String) -> Int? {
        var inside = false
        var header: Int? = nil
        for (number, raw) in lines.enumerated() {
            let line = raw.trimmingWhitespace()
            if line.hasPrefix("[") {
                inside = line == "[\(name)]"
                if inside { header = number + 1 }
                continue
            }
            guard inside else { continue }
            let assignment = line.split(separator: "=", maxSplits: 1).first?.trimmingWhitespace()
            if assignment == key || assignment == "\"\(key)\"" { return number + 1 }
        }
        return header
    }
}
