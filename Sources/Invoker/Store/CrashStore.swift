// CrashStore: the SQLite index of the reports in one output directory (GRDB, WAL mode), in
// `<output_dir>/.invoker-store.sqlite`, mode 0600. One row per report, one per fingerprint group
// (first and last seen, count, versions seen in, a resolved mark). The report files are the
// source of truth: the index is written after them and can be rebuilt from the JSON reports.
//
// Several helpers write at once when several servers crash together: every write is one
// IMMEDIATE transaction (it takes the write lock up front, so two writers never deadlock
// upgrading a read lock) and waits up to `busyTimeout` for the lock instead of failing with
// "database is locked".

#if canImport(Glibc)
import Glibc
#endif
import GRDB
import SystemPackage

/// The crash store of one output directory.
final class CrashStore {
    /// PRAGMA application_id of our files ("INVK"): a SQLite file without it is not ours.
    static let applicationID: Int32 = 0x494E_564B
    /// Seconds a writer waits for another's transaction before giving up.
    static let busyTimeout: Double = 15

    let path: String
    let queue: DatabaseQueue

    /// The store's path for an output directory.
    static func path(in directory: String) -> String { directory + "/" + StoreSettings.fileName }

    private init(path: String, queue: DatabaseQueue) { self.path = path; self.queue = queue }

    /// Opens the store of `directory`. Read-only: nil when there is none yet (nothing to read).
    /// Writable: creates it (mode 0600, never through a symbolic link) and migrates it to the
    /// current schema.
    static func open(directory: String, readOnly: Bool) throws(StoreError) -> CrashStore? {
        let path = path(in: directory)
        if readOnly {
            guard access(path, F_OK) == 0 else { return nil }
        } else {
            // SQLite would create it with 0644 and follow a link planted in its place.
            let fd = Glibc.open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw .file(path: path, operation: "create", errno: Errno(rawValue: errno).sentence) }
            close(fd)
        }
        var configuration = GRDB.Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(busyTimeout)
        if !readOnly { configuration.journalMode = .wal }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw failure(error, path: path, operation: "be opened")
        }
        let store = CrashStore(path: path, queue: queue)
        try store.checkOwnership(readOnly: readOnly)
        if !readOnly {
            do {
                try StoreSchema.migrator.migrate(queue)
            } catch {
                throw failure(error, path: path, operation: "be migrated to the current schema")
            }
        }
        return store
    }

    /// Refuses a SQLite file some other program made (or a file that is not SQLite at all).
    private func checkOwnership(readOnly: Bool) throws(StoreError) {
        let (application, tables): (Int32, Int)
        do {
            (application, tables) = try queue.read { db in
                (try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0)
            }
        } catch {
            throw Self.failure(error, path: path, operation: "be read")
        }
        if application == Self.applicationID || (application == 0 && tables == 0) { return }
        throw .foreign(path: path, reason: application == 0
                       ? "it has \(tables) schema objects but no application id"
                       : "its application id is 0x\(String(UInt32(bitPattern: application), radix: 16))")
    }

    /// A SQLite error as a store error, with SQLite's own message.
    static func failure(_ error: any Error, path: String, operation: String) -> StoreError {
        if let database = error as? DatabaseError {
            let code = database.resultCode
            if code == .SQLITE_NOTADB { return .foreign(path: path, reason: "not a SQLite database") }
            return .database(path: path, operation: operation, reason: database.message ?? "\(code)")
        }
        return .database(path: path, operation: operation, reason: "\(error)")
    }

    /// Runs `body` in one IMMEDIATE transaction (see the file's comment).
    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try queue.writeWithoutTransaction { db in
                var result: T? = nil
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch {
            throw Self.failure(error, path: path, operation: operation)
        }
    }

    /// Runs `body` on a consistent view of the store.
    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try queue.read(body)
        } catch {
            throw Self.failure(error, path: path, operation: operation)
        }
    }
}
