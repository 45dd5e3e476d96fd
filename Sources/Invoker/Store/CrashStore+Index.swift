// CrashStore+Index: what a crash run asks of the store and adds to it: the group's standing
// before the report is written (read-only, cheap), then the report's row and its group's
// counters after the files are on disk.

import GRDB

/// What the store knows of a fingerprint's group before this crash.
struct GroupStatus: Equatable {
    /// Crashes recorded so far (pruned and compact ones included).
    var count: Int
    /// Full (not compact) reports within the crash-loop window.
    var fullReportsInWindow: Int
    /// When the group was marked resolved, if it is.
    var resolvedAt: Int?
    /// Whether `version` was seen before the group was resolved (so a crash in it is no regression).
    var versionSeenBeforeResolve: Bool
}

extension CrashStore {
    /// Whether any fingerprint has `limit` or more full reports in the window ending at `now`: the
    /// cheap first question during the server's downtime, before any symbolizing is done for a
    /// crash-loop decision.
    func anyGroupAtLoopLimit(now: Int, window: Int, limit: Int) throws(StoreError) -> Bool {
        try read("be read") { db in
            try Bool.fetchOne(db, sql: """
                SELECT 1 FROM report WHERE compact = 0 AND time BETWEEN ? AND ?
                GROUP BY fingerprint HAVING count(*) >= ? LIMIT 1
                """, arguments: [now - window, now, limit]) ?? false
        }
    }

    /// The group's standing, or nil if the fingerprint was never seen. Reports stamped after
    /// `now` (a clock that jumped backwards) do not count towards the window.
    func status(of fingerprint: String, version: String, now: Int, window: Int) throws(StoreError) -> GroupStatus? {
        try read("be read") { db in
            guard let group = try Row.fetchOne(db, sql: "SELECT count, resolved_at FROM crash_group WHERE fingerprint = ?",
                                               arguments: [fingerprint]) else { return nil }
            let full = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM report WHERE fingerprint = ? AND compact = 0 AND time BETWEEN ? AND ?
                """, arguments: [fingerprint, now - window, now]) ?? 0
            let seen = try Bool.fetchOne(db, sql: "SELECT resolved FROM group_version WHERE fingerprint = ? AND version = ?",
                                         arguments: [fingerprint, version]) ?? false
            return GroupStatus(count: group["count"], fullReportsInWindow: full, resolvedAt: group["resolved_at"],
                               versionSeenBeforeResolve: seen)
        }
    }

    /// Indexes one report (nothing if its text path is indexed already) and counts it in its
    /// group; a regression reopens the group. Returns the report's id.
    @discardableResult
    func record(_ entry: StoreEntry, now: Int) throws(StoreError) -> Int64? {
        try write("record \(entry.textPath)") { db in
            try Self.insert(entry, now: now, db)
        }
    }

    /// The insert of `record`, inside the caller's transaction (rebuild inserts many in one).
    static func insert(_ entry: StoreEntry, now: Int, _ db: Database) throws -> Int64? {
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO report (time, pid, executable, build_id, server_version, signal, fault_kind,
                                          fingerprint, state, compact, text_path, json_path, bytes, indexed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [entry.time, entry.pid, entry.executable, entry.buildID, entry.serverVersion, entry.signal,
                             entry.faultKind, entry.fingerprint, entry.state, entry.compact, entry.textPath,
                             entry.jsonPath, entry.bytes, now])
        guard db.changesCount > 0 else { return nil }
        let id = db.lastInsertedRowID
        try db.cachedStatement(sql: """
            INSERT INTO crash_group (fingerprint, first_seen, last_seen, count, signal, fault_kind, first_report)
            VALUES (?, ?, ?, 1, ?, ?, ?)
            ON CONFLICT (fingerprint) DO UPDATE SET
                count = count + 1,
                last_seen = max(last_seen, excluded.last_seen),
                first_seen = min(first_seen, excluded.first_seen),
                resolved_at = CASE WHEN ? = 'regression' THEN NULL ELSE resolved_at END
            """).execute(arguments: [entry.fingerprint, entry.time, entry.time, entry.signal, entry.faultKind, id, entry.state])
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO group_version (fingerprint, version, first_seen) VALUES (?, ?, ?)")
            .execute(arguments: [entry.fingerprint, entry.version, entry.time])
        return id
    }

    /// Records what was sent to Sentry for the report at `textPath` (an event id, or a status such
    /// as "queued" or "failed: …"); `invoker list` shows it. For the Sentry forwarder.
    func recordSentry(_ status: String, forReport textPath: String) throws(StoreError) {
        try write("record the Sentry status of \(textPath)") { db in
            try db.execute(sql: "UPDATE report SET sentry = ? WHERE text_path = ?", arguments: [status, textPath])
        }
    }

    /// The text paths already indexed, to find reports a failed index write missed.
    func indexedPaths() throws(StoreError) -> Set<String> {
        try read("be read") { db in Set(try String.fetchAll(db, sql: "SELECT text_path FROM report")) }
    }
}
