// ConfigurationLoader+Store: the `[store]` table (crash store, crash-loop protection, limits).

import TOMLKit

extension ConfigurationLoader {
    static let storeKeys = ["enabled", "loop_reports", "loop_window", "max_store_bytes", "max_age_days"]

    static func storeSettings(_ table: TOMLTable, fail: (String, String) -> ConfigurationError) throws(ConfigurationError) -> StoreSettings {
        var settings = StoreSettings()
        for key in table.keys where !storeKeys.contains(key) {
            throw fail(key, "not a setting of [store]" + suggestion(for: key, among: storeKeys))
        }
        if let value = table["enabled"] {
            guard let flag = value.bool else { throw fail("enabled", "must be true or false") }
            settings.enabled = flag
        }
        if let value = table["loop_reports"] {
            guard let count = value.int, (0...10_000).contains(count) else {
                throw fail("loop_reports", "must be an integer from 0 (no crash-loop protection) to 10000")
            }
            settings.loopReports = count
        }
        if let value = table["loop_window"] {
            guard let seconds = value.double ?? value.int.map(Double.init), seconds >= 1, seconds <= 366 * 86400 else {
                throw fail("loop_window", "must be a number of seconds from 1 to a year")
            }
            settings.loopWindow = seconds
        }
        if let value = table["max_store_bytes"] {
            guard let bytes = value.int, bytes >= 0 else { throw fail("max_store_bytes", "must be 0 (no limit) or a positive number of bytes") }
            settings.maxStoreBytes = bytes
        }
        if let value = table["max_age_days"] {
            guard let days = value.double ?? value.int.map(Double.init), days >= 0 else {
                throw fail("max_age_days", "must be 0 (no limit) or a positive number of days")
            }
            settings.maxAgeDays = days
        }
        return settings
    }
}

extension SourceLocator {
    /// The line of `key = …` inside the `[name]` table (or the first `[[name]]` that has it), else
    /// the table's header line.
    func line(of key: String, inTableOrArray name: String) -> Int? {
        var inside = false
        var header: Int? = nil
        for (number, raw) in lines.enumerated() {
            let line = raw.trimmingWhitespace()
            if line.hasPrefix("[") {
                inside = line == "[\(name)]" || line == "[[\(name)]]"
                if inside { header = number + 1 }
                continue
            }
            guard inside else { continue }
            let assignment = line.split(separator: "=", maxSplits: 1).first?.trimmingWhitespace()
            if assignment == key { return number + 1 }
        }
        return header
    }
}
