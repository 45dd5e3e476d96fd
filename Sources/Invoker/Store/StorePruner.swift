// StorePruner: keeps the store's reports within `max_store_bytes` and `max_age_days`. Oldest
// first within the biggest groups, so one crash loop cannot push out every other crash; never the
// report just written and never a group's first report. Group counts keep every crash.

#if canImport(Glibc)
import Glibc
#endif
import GRDB

/// What one pruning pass removed.
struct PruneResult: Equatable {
    var reports = 0
    var bytes = 0
}

enum StorePruner {
    private struct Candidate { var id: Int64; var fingerprint: String; var time: Int; var bytes: Int; var paths: [String] }

    /// Deletes report files and rows beyond the limits; `keep` is this run's text path (if any).
    @discardableResult
    static func prune(_ store: CrashStore, settings: StoreSettings, now: Int, keep: String?) throws(StoreError) -> PruneResult {
        let (candidates, total) = try store.read("be read for pruning") { db -> ([Candidate], Int) in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, fingerprint, time, bytes, text_path, json_path FROM report
                WHERE id NOT IN (SELECT first_report FROM crash_group WHERE first_report IS NOT NULL)
                ORDER BY time, id
                """)
            let total = try Int.fetchOne(db, sql: "SELECT coalesce(sum(bytes), 0) FROM report") ?? 0
            return (rows.compactMap { row in
                let text: String = row["text_path"]
                if text == keep { return nil }
                return Candidate(id: row["id"], fingerprint: row["fingerprint"], time: row["time"], bytes: row["bytes"],
                                 paths: [text] + [row["json_path"] as String?].compactMap { $0 })
            }, total)
        }
        var doomed: [Candidate] = []
        var remaining = candidates
        if settings.maxAgeDays > 0 {
            let cutoff = now - Int(settings.maxAgeDays * 86400)
            doomed = remaining.filter { $0.time < cutoff }
            remaining.removeAll { $0.time < cutoff }
        }
        var size = total - doomed.reduce(0) { $0 + $1.bytes }
        if settings.maxStoreBytes > 0, size > settings.maxStoreBytes {
            // Bytes per group among what may go; the biggest gives up its oldest report first.
            var groups: [String: [Candidate]] = Dictionary(grouping: remaining, by: \.fingerprint)
            var sizes = groups.mapValues { $0.reduce(0) { $0 + $1.bytes } }
            while size > settings.maxStoreBytes, let biggest = sizes.max(by: { $0.value < $1.value }), biggest.value > 0 {
                let victim = groups[biggest.key]!.removeFirst()
                sizes[biggest.key]! -= victim.bytes
                if groups[biggest.key]!.isEmpty { sizes[biggest.key] = 0 }
                size -= victim.bytes
                doomed.append(victim)
            }
        }
        guard !doomed.isEmpty else { return PruneResult() }
        for victim in doomed { for path in victim.paths { unlink(path) } }
        try store.write("delete pruned reports") { db in
            for chunk in stride(from: 0, to: doomed.count, by: 500) {
                let ids = doomed[chunk..<min(chunk + 500, doomed.count)].map(\.id)
                try db.execute(sql: "DELETE FROM report WHERE id IN (\(ids.map { String($0) }.joined(separator: ",")))")
            }
        }
        return PruneResult(reports: doomed.count, bytes: doomed.reduce(0) { $0 + $1.bytes })
    }
}
