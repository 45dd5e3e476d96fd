// CrashStore+Queries: what the command line reads and changes: reports and groups for `invoker
// list` and `groups`, one report for `show`, the resolved mark for `resolve`, and `store rebuild`.

import GRDB
import TracerKit

/// A report row with its group's count, as `invoker list` shows it.
struct ListedReport: Encodable, Equatable {
    var id: Int64
    var time: Int
    var pid: Int32
    var executable: String
    var buildId: String?
    var signal: Int32?
    var faultKind: String?
    var fingerprint: String
    var state: String
    var compact: Bool
    var textPath: String
    var jsonPath: String?
    var bytes: Int
    var groupCount: Int
    /// What was sent to Sentry for this report (filled in by the Sentry forwarder), if anything.
    var sentry: String?

    init(row: Row) {
        id = row["id"]; time = row["time"]; pid = row["pid"]; executable = row["executable"]; buildId = row["build_id"]
        signal = row["signal"]; faultKind = row["fault_kind"]; fingerprint = row["fingerprint"]; state = row["state"]
        compact = row["compact"]; textPath = row["text_path"]; jsonPath = row["json_path"]; bytes = row["bytes"]
        groupCount = row["count"] ?? 0; sentry = row["sentry"]
    }
}

/// A fingerprint group, as `invoker groups` shows it.
struct GroupRow: Encodable, Equatable {
    var fingerprint: String
    var count: Int
    /// Reports still on disk (pruning removes reports, never counts).
    var reports: Int
    var firstSeen: Int
    var lastSeen: Int
    var signal: Int32?
    var faultKind: String?
    var versions: [String]
    /// "open" or "resolved".
    var state: String
    var resolvedAt: Int?
}

extension CrashStore {
    private static let listColumns = """
        r.id, r.time, r.pid, r.executable, r.build_id, r.signal, r.fault_kind, r.fingerprint, r.state, r.compact,
        r.text_path, r.json_path, r.bytes, r.sentry, g.count
        """

    /// Reports oldest first, since `since` (seconds since the epoch) and of fingerprints starting
    /// with `fingerprint`, when given.
    func reports(since: Int?, fingerprint: String?) throws(StoreError) -> [ListedReport] {
        try read("be read") { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let since { conditions.append("r.time >= ?"); arguments += [since] }
            if let fingerprint { conditions.append("r.fingerprint LIKE ?"); arguments += [Self.normalized(fingerprint) + "%"] }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try Row.fetchAll(db, sql: """
                SELECT \(Self.listColumns) FROM report r LEFT JOIN crash_group g ON g.fingerprint = r.fingerprint
                \(filter) ORDER BY r.time, r.id
                """, arguments: arguments).map(ListedReport.init)
        }
    }

    /// One report: an id, "latest", or a fingerprint (its group's latest report).
    func report(matching selector: String) throws(StoreError) -> ListedReport? {
        try read("be read") { db in
            let base = "SELECT \(Self.listColumns) FROM report r LEFT JOIN crash_group g ON g.fingerprint = r.fingerprint"
            if let id = Int64(selector) {
                return try Row.fetchOne(db, sql: base + " WHERE r.id = ?", arguments: [id]).map(ListedReport.init)
            }
            if selector == "latest" {
                return try Row.fetchOne(db, sql: base + " ORDER BY r.time DESC, r.id DESC LIMIT 1").map(ListedReport.init)
            }
            return try Row.fetchOne(db, sql: base + " WHERE r.fingerprint LIKE ? ORDER BY r.time DESC, r.id DESC LIMIT 1",
                                    arguments: [Self.normalized(selector) + "%"]).map(ListedReport.init)
        }
    }

    /// Every group, the most recently seen first.
    func groups() throws(StoreError) -> [GroupRow] {
        try read("be read") { db in
            let versions = Dictionary(grouping: try Row.fetchAll(db, sql: "SELECT fingerprint, version FROM group_version ORDER BY first_seen"),
                                      by: { $0["fingerprint"] as String }).mapValues { $0.map { $0["version"] as String } }
            return try Row.fetchAll(db, sql: """
                SELECT g.*, (SELECT count(*) FROM report r WHERE r.fingerprint = g.fingerprint) AS reports
                FROM crash_group g ORDER BY g.last_seen DESC
                """).map { row in
                let fingerprint: String = row["fingerprint"]
                let resolved: Int? = row["resolved_at"]
                return GroupRow(fingerprint: fingerprint, count: row["count"], reports: row["reports"],
                                firstSeen: row["first_seen"], lastSeen: row["last_seen"], signal: row["signal"],
                                faultKind: row["fault_kind"], versions: versions[fingerprint] ?? [],
                                state: resolved == nil ? "open" : "resolved", resolvedAt: resolved)
            }
        }
    }

    /// The fingerprints starting with `prefix`.
    func fingerprints(matching prefix: String) throws(StoreError) -> [String] {
        try read("be read") { db in
            try String.fetchAll(db, sql: "SELECT fingerprint FROM crash_group WHERE fingerprint LIKE ? ORDER BY fingerprint",
                                arguments: [Self.normalized(prefix) + "%"])
        }
    }

    /// Marks a group resolved at `now`: the versions seen so far are the ones it is fixed after;
    /// a later crash in another one is a regression.
    func resolve(_ fingerprint: String, now: Int) throws(StoreError) {
        try write("mark \(fingerprint) resolved") { db in
            try db.execute(sql: "UPDATE crash_group SET resolved_at = ? WHERE fingerprint = ?", arguments: [now, fingerprint])
            try db.execute(sql: "UPDATE group_version SET resolved = 1 WHERE fingerprint = ?", arguments: [fingerprint])
        }
    }

    /// Replaces every row with `entries` (oldest first), keeping the resolved marks of groups.
    func rebuild(from entries: [StoreEntry], now: Int) throws(StoreError) {
        try write("be rebuilt") { db in
            let resolved = try Row.fetchAll(db, sql: "SELECT fingerprint, resolved_at FROM crash_group WHERE resolved_at IS NOT NULL")
            try db.execute(sql: "DELETE FROM report; DELETE FROM crash_group; DELETE FROM group_version")
            for entry in entries { _ = try Self.insert(entry, now: now, db) }
            for row in resolved {
                let fingerprint: String = row["fingerprint"], at: Int = row["resolved_at"]
                try db.execute(sql: "UPDATE crash_group SET resolved_at = ? WHERE fingerprint = ?", arguments: [at, fingerprint])
                try db.execute(sql: "UPDATE group_version SET resolved = 1 WHERE fingerprint = ? AND first_seen <= ?",
                               arguments: [fingerprint, at])
            }
        }
    }

    /// "fp1:abc", "abc" → "fp1:abc" (LIKE wildcards escaped away).
    static func normalized(_ fingerprint: String) -> String {
        let bare = fingerprint.filter { $0 != "%" && $0 != "_" }
        return bare.hasPrefix(Fingerprint.rule + ":") ? bare : Fingerprint.rule + ":" + bare
    }
}
