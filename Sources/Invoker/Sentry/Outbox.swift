// Outbox: envelopes waiting to reach Sentry, so that a crash is never held for the network and a
// network outage loses nothing. Layout of the directory (0700; files 0600, written atomically):
//
//   pending/NAME.envelope.gz   the gzipped envelope, exactly as it will be POSTed
//   pending/NAME.json          its OutboxEntry: report, event id, attempts, when to try next
//   sent/NAME.json             a SentRecord once Sentry accepted it (what `invoker list` shows)
//   rate-limit.json            until when Sentry asked us to wait (429, X-Sentry-Rate-Limits)
//
// Bounded by count, bytes and age: the oldest pending envelopes go first, and say so in the log.

#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import SystemPackage
import TracerKit

/// One pending envelope's bookkeeping.
struct OutboxEntry: Codable, Equatable, Sendable {
    var name: String
    /// Our event id (the envelope's).
    var eventID: String
    /// The report it was made from (text log path), when it was written to a file.
    var report: String?
    var created: Int
    var attempts: Int = 0
    /// Not before this Unix time.
    var nextAttempt: Int = 0
    var lastError: String?
    var bytes: Int = 0

    enum CodingKeys: String, CodingKey {
        case name, eventID = "event_id", report, created, attempts, nextAttempt = "next_attempt", lastError = "last_error", bytes
    }
}

/// A delivered envelope: what was sent, and Sentry's id for it.
struct SentRecord: Codable, Equatable, Sendable {
    var name: String
    var eventID: String
    /// The id Sentry answered with (normally equal to eventID).
    var sentryEventID: String?
    var report: String?
    /// Unix time of delivery.
    var sent: Int
    var status: Int
    /// Where it went (the DSN's endpoint, without the key).
    var url: String

    enum CodingKeys: String, CodingKey {
        case name, eventID = "event_id", sentryEventID = "sentry_event_id", report, sent, status, url
    }
}

/// Why the outbox could not take or give an envelope.
struct OutboxError: Error, CustomStringConvertible {
    var operation: String
    var path: String
    var errno: Errno
    var description: String { "cannot \(operation) \(path) (the Sentry outbox): \(errno.sentence)" }
}

struct Outbox {
    let path: String
    var maxEntries = 100
    var maxBytes = 50 << 20
    var maxAgeSeconds = 7 * 86_400

    init(path: String, settings: SentrySettings) {
        self.path = path
        maxEntries = settings.outboxMaxEntries
        maxBytes = settings.outboxMaxBytes
        maxAgeSeconds = settings.outboxMaxAgeDays * 86_400
    }

    /// The outbox for reports written in `reportDirectory`: the configured one, else
    /// `sentry-outbox` beside the reports.
    static func path(settings: SentrySettings, reportDirectory: String) -> String {
        settings.outbox ?? reportDirectory + "/sentry-outbox"
    }

    var pendingDirectory: String { path + "/pending" }
    var sentDirectory: String { path + "/sent" }

    /// Puts an envelope in the outbox; returns the entry. Old entries beyond the bounds are
    /// dropped first; the messages say which.
    func add(envelope gzipped: [UInt8], eventID: String, report: String?, baseName: String, now: Int) throws(OutboxError) -> (OutboxEntry, dropped: [String]) {
        try makeDirectories()
        let name = "\(baseName)-\(eventID.prefix(8))"
        let entry = OutboxEntry(name: name, eventID: eventID, report: report, created: now, bytes: gzipped.count)
        try Self.writeAtomically(gzipped, to: pendingDirectory + "/" + name + ".envelope.gz")
        try save(entry)
        return (entry, prune(now: now, keeping: name))
    }

    /// Pending entries, oldest first.
    func pending() -> [OutboxEntry] {
        ProcFile.entries(of: pendingDirectory).filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            guard case .success(let bytes) = ProcFile.readBytes(pendingDirectory + "/" + name, limit: 1 << 20) else { return nil }
            return try? Self.decoder().decode(OutboxEntry.self, from: Data(bytes))
        }.sorted { ($0.created, $0.name) < ($1.created, $1.name) }
    }

    func envelope(of entry: OutboxEntry) -> [UInt8]? {
        guard case .success(let bytes) = ProcFile.readBytes(pendingDirectory + "/" + entry.name + ".envelope.gz", limit: 64 << 20)
        else { return nil }
        return bytes
    }

    func save(_ entry: OutboxEntry) throws(OutboxError) {
        try Self.writeAtomically(Self.encode(entry), to: pendingDirectory + "/" + entry.name + ".json")
    }

    func remove(_ entry: OutboxEntry) {
        unlink(pendingDirectory + "/" + entry.name + ".envelope.gz")
        unlink(pendingDirectory + "/" + entry.name + ".json")
    }

    /// Records a delivery and removes the pending entry.
    func markSent(_ entry: OutboxEntry, record: SentRecord) throws(OutboxError) {
        try makeDirectories()
        try Self.writeAtomically(Self.encode(record), to: sentDirectory + "/" + entry.name + ".json")
        remove(entry)
    }

    /// Every delivery recorded here, oldest first.
    func sentRecords() -> [SentRecord] {
        ProcFile.entries(of: sentDirectory).filter { $0.hasSuffix(".json") }.compactMap { name in
            guard case .success(let bytes) = ProcFile.readBytes(sentDirectory + "/" + name, limit: 1 << 20) else { return nil }
            return try? Self.decoder().decode(SentRecord.self, from: Data(bytes))
        }.sorted { ($0.sent, $0.name) < ($1.sent, $1.name) }
    }

    /// The delivery of the report at `reportPath` (its text log), if it was sent.
    func sentRecord(forReport reportPath: String) -> SentRecord? {
        sentRecords().last { $0.report == reportPath }
    }

    /// Until when Sentry asked us not to send (Unix time), 0 if it did not.
    func rateLimitedUntil() -> Int {
        guard case .success(let bytes) = ProcFile.readBytes(path + "/rate-limit.json", limit: 4096),
              let value = try? JSONValue.decode(bytes) else { return 0 }
        return Int(value["until"]?.integerValue ?? 0)
    }

    func setRateLimited(until: Int) throws(OutboxError) {
        try makeDirectories()
        try Self.writeAtomically(JSONValue.object(["until": .integer(Int64(until))]).encoded(), to: path + "/rate-limit.json")
    }

    /// Drops what is too old, then the oldest beyond the count and byte bounds; never `keeping`.
    func prune(now: Int, keeping: String? = nil) -> [String] {
        var dropped: [String] = []
        var entries = pending()
        for entry in entries where entry.name != keeping && now - entry.created > maxAgeSeconds {
            remove(entry)
            dropped.append("\(entry.name): older than \(maxAgeSeconds / 86_400) days")
        }
        entries = pending()
        var total = entries.reduce(0) { $0 + $1.bytes }
        var count = entries.count
        for entry in entries where entry.name != keeping && (count > maxEntries || total > maxBytes) {
            remove(entry)
            dropped.append("\(entry.name): the outbox holds at most \(maxEntries) envelopes and \(maxBytes) bytes")
            count -= 1
            total -= entry.bytes
        }
        return dropped
    }

    private func makeDirectories() throws(OutboxError) {
        for directory in [path, pendingDirectory, sentDirectory] {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw OutboxError(operation: "create", path: directory, errno: Errno(rawValue: errno))
            }
        }
    }

    private static func decoder() -> JSONDecoder { JSONDecoder() }

    private static func encode<Value: Encodable>(_ value: Value) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { Array($0) + [0x0a] } ?? []
    }

    /// Writes `bytes` to `target` (mode 0600) through a temporary file created exclusively, never
    /// through a symbolic link, synced, then renamed over `target`.
    static func writeAtomically(_ bytes: [UInt8], to target: String) throws(OutboxError) {
        let temporary = target + ".\(getpid()).tmp"
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                                                 permissions: [.ownerReadWrite])
        } catch {
            throw OutboxError(operation: "create", path: temporary, errno: (error as? Errno) ?? .ioError)
        }
        do {
            _ = try descriptor.closeAfter {
                _ = try bytes.withUnsafeBytes { try descriptor.writeAll($0) }
                if fsync(descriptor.rawValue) != 0 { throw Errno(rawValue: errno) }
            }
        } catch {
            unlink(temporary)
            throw OutboxError(operation: "write", path: temporary, errno: (error as? Errno) ?? .ioError)
        }
        guard rename(temporary, target) == 0 else {
            let failure = Errno(rawValue: errno)
            unlink(temporary)
            throw OutboxError(operation: "rename into", path: target, errno: failure)
        }
    }
}
