// ReportIndexer: the crash store's step of a crash run, after the report files are written and
// the server released: index this report, pick up reports an earlier failed index write missed,
// then prune to the limits. A store that cannot be used costs nothing but its sentence in the log:
// the report is already on disk.

import Logging
import TracerKit

struct ReportIndexer {
    let directory: String
    let settings: StoreSettings
    let logger: Logger

    /// Indexes the report at `location`; returns the sentence of what went wrong, if anything.
    @discardableResult
    func index(_ report: CrashReport, at location: ReportLocation, now: Int) -> String? {
        do {
            guard let store = try CrashStore.open(directory: directory, readOnly: false) else { return nil }
            try store.record(StoreEntry(report: report, location: location), now: now)
            let missed = try catchUp(store, now: now)
            if missed > 0 { logger.notice("indexed \(missed) earlier reports the crash store had missed") }
            let pruned = try StorePruner.prune(store, settings: settings, now: now, keep: location.reportPath)
            if pruned.reports > 0 {
                logger.notice("pruned \(pruned.reports) reports (\(pruned.bytes) bytes) to keep the crash store within its limits")
            }
            return nil
        } catch {
            let sentence = "the report \(location.reportPath ?? "?") was written, but \(error.description)"
            logger.error("\(sentence)")
            return sentence
        }
    }

    /// Indexes the JSON crash reports of the directory that have no row yet; returns how many.
    func catchUp(_ store: CrashStore, now: Int) throws(StoreError) -> Int {
        let indexed = try store.indexedPaths()
        let missing = Self.jsonReports(in: directory).filter { !indexed.contains(String($0.dropLast(".json".count)) + ".log") }
        guard !missing.isEmpty else { return 0 }
        let entries = missing.compactMap(StoreEntry.read(jsonPath:)).sorted { ($0.time, $0.textPath) < ($1.time, $1.textPath) }
        try store.write("index earlier reports") { db in
            for entry in entries { _ = try CrashStore.insert(entry, now: now, db) }
        }
        return entries.count
    }

    /// The JSON crash reports of a directory (crash-*.json), as full paths.
    static func jsonReports(in directory: String) -> [String] {
        ProcFile.entries(of: directory).filter { $0.hasPrefix("crash-") && $0.hasSuffix(".json") }.sorted()
            .map { directory + "/" + $0 }
    }
}
