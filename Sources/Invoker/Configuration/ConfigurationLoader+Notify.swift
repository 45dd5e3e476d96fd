// ConfigurationLoader+Notify: the `[[notify]]` tables (programs run after the final report).

import TOMLKit

extension ConfigurationLoader {
    static let notifyKeys = ["name", "exec", "timeout", "user", "env", "group"]

    static func notifier(_ entry: TOMLTable, index: Int, fail: (String, String) -> ConfigurationError) throws(ConfigurationError) -> NotifierSpec {
        for key in entry.keys where !notifyKeys.contains(key) {
            throw fail(key, "not a setting of a notifier" + suggestion(for: key, among: notifyKeys))
        }
        guard let array = entry["exec"]?.array, !array.isEmpty else {
            throw fail("exec", "must be a non-empty array of strings: the program and its arguments")
        }
        var command: [String] = []
        for word in array {
            guard let text = word.string else { throw fail("exec", "every word must be a string") }
            var iterator = text.makeIterator()
            while let character = iterator.next() {
                guard character == "%" else { continue }
                guard let next = iterator.next(), NotifierSpec.placeholders.contains(next) else {
                    throw fail("exec", "unknown placeholder in \"\(text)\"; use %p %t %s %e %o %r %j %f %n or %%")
                }
            }
            command.append(text)
        }
        guard command[0].hasPrefix("/") else {
            throw fail("exec", "the program must be an absolute path (no PATH search, no shell), not \"\(command[0])\"")
        }
        var spec = NotifierSpec(name: command[0].split(separator: "/").last.map(String.init) ?? command[0], command: command)
        if let value = entry["name"] {
            guard let name = value.string, !name.isEmpty else { throw fail("name", "must be a non-empty string") }
            spec.name = name
        }
        if let value = entry["timeout"] {
            guard let seconds = value.double ?? value.int.map(Double.init), seconds > 0, seconds <= 86400 else {
                throw fail("timeout", "must be a positive number of seconds, at most 86400 (one day)")
            }
            spec.timeout = seconds
        }
        if let value = entry["user"] {
            guard let user = value.string ?? value.int.map(String.init), !user.isEmpty else { throw fail("user", "must be a user name or uid") }
            spec.user = user
        }
        if let value = entry["group"] {
            guard let group = value.string ?? value.int.map(String.init), !group.isEmpty else { throw fail("group", "must be a group name or gid") }
            spec.group = group
        }
        if let value = entry["env"] {
            guard let env = value.table else { throw fail("env", "must be a table such as { LANG = \"C\" }") }
            for key in env.keys {
                guard let text = env[key]?.string else { throw fail("env", "the value of \(key) must be a string") }
                spec.environment[key] = text
            }
        }
        return spec
    }
}
