// StoreSchema: the crash store's tables, as GRDB migrations from the first version on. A new
// version of invoker adds a migration; it never edits one that shipped.

import GRDB

enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: "PRAGMA application_id = \(CrashStore.applicationID)")
            try db.execute(sql: """
                CREATE TABLE report (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    time INTEGER NOT NULL,              -- seconds since the epoch
                    pid INTEGER NOT NULL,
                    executable TEXT NOT NULL,
                    build_id TEXT,                      -- the main module's GNU build-id
                    server_version TEXT,
                    signal INTEGER,
                    fault_kind TEXT,
                    fingerprint TEXT NOT NULL,
                    state TEXT NOT NULL,                -- new, repeat, regression, loop
                    compact INTEGER NOT NULL,           -- 1: a crash-loop record, tracers skipped
                    text_path TEXT NOT NULL UNIQUE,
                    json_path TEXT,
                    bytes INTEGER NOT NULL,
                    indexed_at INTEGER NOT NULL,
                    sentry TEXT                         -- what was sent to Sentry (event id or status); NULL: nothing
                );
                CREATE INDEX report_by_fingerprint ON report(fingerprint, time);
                CREATE INDEX report_by_time ON report(time);
                CREATE TABLE crash_group (
                    fingerprint TEXT PRIMARY KEY,
                    first_seen INTEGER NOT NULL,
                    last_seen INTEGER NOT NULL,
                    count INTEGER NOT NULL,             -- every crash, including pruned and compact ones
                    signal INTEGER,
                    fault_kind TEXT,
                    first_report INTEGER,               -- report.id of the first report: never pruned
                    resolved_at INTEGER                 -- `invoker resolve`; NULL: open
                );
                CREATE TABLE group_version (
                    fingerprint TEXT NOT NULL,
                    version TEXT NOT NULL,              -- server version, else "build-id <12 hex>"
                    first_seen INTEGER NOT NULL,
                    resolved INTEGER NOT NULL DEFAULT 0, -- seen before the group was resolved
                    PRIMARY KEY (fingerprint, version)
                );
                """)
        }
        return migrator
    }
}
