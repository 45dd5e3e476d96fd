// A SQLite database some other program made, for the "foreign store" test.

import GRDB

enum GRDBTestSupport {
    static func makeForeignDatabase(_ path: String) throws -> DatabaseQueue {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)") }
        return queue
    }
}
