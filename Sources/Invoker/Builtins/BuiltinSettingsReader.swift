// BuiltinSettingsReader: reads one [[tracer]] table's settings for a built-in's registry entry,
// with the loader's rules and sentences (file:line: tracer[N].key: problem). The keys themselves
// were already checked against the entry's `settings`.

import TOMLKit

/// The settings of one built-in's [[tracer]] table.
struct BuiltinSettingsReader {
    let table: TOMLTable
    /// The tracer's position in the chain (0-based), for messages.
    let index: Int
    let fail: (String, String, Int?) -> ConfigurationError

    /// A reader of an empty table (the built-in's defaults).
    static var defaults: BuiltinSettingsReader {
        BuiltinSettingsReader(table: TOMLTable(), index: 0) { key, message, _ in
            ConfigurationError(file: "built-in defaults", key: key, message: message)
        }
    }

    /// The error for `key`, located in this tracer's table.
    func failure(_ key: String, _ message: String) -> ConfigurationError { fail(key, message, index) }

    /// An integer in `range`, or nil when the key is absent.
    func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let value = table[key] else { return nil }
        guard let number = value.int, range.contains(number) else {
            throw failure(key, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// One of `choices`, or nil when the key is absent.
    func choice(_ key: String, among choices: [String]) throws(ConfigurationError) -> String? {
        guard let value = table[key] else { return nil }
        guard let text = value.string, choices.contains(text) else {
            throw failure(key, "must be " + choices.map { "\"\($0)\"" }.joined(separator: " or "))
        }
        return text
    }

    /// An array of strings (non-empty ones when `nonEmpty`), or nil when the key is absent;
    /// `rule` is the sentence for anything else.
    func strings(_ key: String, nonEmpty: Bool = false, rule: String) throws(ConfigurationError) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array, let texts = Optional(array.compactMap { $0.string }), texts.count == array.count,
              !nonEmpty || texts.allSatisfy({ !$0.isEmpty }) else {
            throw failure(key, rule)
        }
        return texts
    }

    /// A positive number of seconds (ConfigurationLoader's rule), or nil when the key is absent.
    func seconds(_ key: String) throws(ConfigurationError) -> Double? {
        guard let value = table[key] else { return nil }
        guard let seconds = ConfigurationLoader.seconds(value) else { throw failure(key, ConfigurationLoader.secondsRule) }
        return seconds
    }
}
