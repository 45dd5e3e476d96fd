// NotifierSpec: one `[[notify]]` table: a program run after the final report is written and the
// server released, with the report's paths, fingerprint and occurrence as placeholders.

import Tracers

/// A notifier as configured.
struct NotifierSpec: Equatable, Codable {
    var name: String
    /// argv, with placeholders (%p %t %s %e %o %r %j %f %n %%) still in it.
    var command: [String]
    /// Seconds before it is terminated (SIGTERM to its process group, then SIGKILL).
    var timeout: Double = 30
    /// Run as this user (name or uid); nil: as invoker runs.
    var user: String?
    var environment: [String: String] = [:]
    /// Give the report files to this group, mode 0440, before it runs: read access without
    /// making reports world readable.
    var group: String?

    static let placeholders: Set<Character> = ["p", "t", "s", "e", "o", "r", "j", "f", "n", "%"]
}

/// The values of a notifier's placeholders for one report.
struct NotifierValues: Codable, Equatable {
    var pid: Int32
    var tid: Int32
    var signal: Int32
    var executable: String
    var outputDirectory: String
    var textPath: String
    var jsonPath: String
    var fingerprint: String
    /// new, repeat, regression or loop.
    var occurrence: String

    /// `word` with every placeholder replaced: the tracers' (PlaceholderValues, %r the text
    /// report) and %j %f %n.
    func expand(_ word: String) -> String {
        var values = PlaceholderValues(pid: pid, tid: tid, signal: signal, executable: executable,
                                       outputDirectory: outputDirectory, reportPath: textPath)
        values.extra = ["j": jsonPath, "f": fingerprint, "n": occurrence]
        return values.expand(word)
    }
}
