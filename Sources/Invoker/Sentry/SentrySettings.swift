// SentrySettings: the `[sentry]` table of invoker.conf (values only; ConfigurationLoader+Sentry
// reads and checks them). With no DSN (neither in the file nor in SENTRY_DSN) nothing is sent.

/// Which files travel with the event as attachments.
enum SentryAttachment: String, CaseIterable, Sendable {
    /// The text crash log (traffic_crashlog's layout).
    case log
    /// The JSON report (schema invoker-report/1).
    case json
}

/// How reports are forwarded to Sentry.
struct SentrySettings: Equatable, Sendable {
    /// The project's DSN; nil: the table is there but SENTRY_DSN must supply it.
    var dsn: SentryDSN?
    /// Sentry's `environment` ("production", "staging").
    var environment: String?
    /// Sentry's `release`; `%v` is replaced by the server's version when the report knows it.
    var release: String?
    /// Sentry's `server_name`; nil: the report's host name.
    var serverName: String?
    /// Extra tags on every event.
    var tags: [String: String] = [:]
    /// Forward live snapshots too (as level `warning`).
    var sendSnapshots = false
    var attachments: [SentryAttachment] = [.log, .json]
    /// The event's size cap in bytes, before compression (Relay rejects events above 1 MiB).
    var maxEventBytes = 1_000_000
    /// Frames whose module path or function contains one of these are `in_app`; empty: the
    /// crashed executable's own frames are.
    var inApp: [String] = []
    /// Where envelopes wait to be sent; nil: `sentry-outbox` in the report directory.
    var outbox: String?
    /// The outbox's bounds: entries, bytes, days.
    var outboxMaxEntries = 100
    var outboxMaxBytes = 50 << 20
    var outboxMaxAgeDays = 7
    /// Seconds: connecting, and the whole request.
    var connectTimeout: Double = 10
    var timeout: Double = 30

    /// One line for `check-config` (the DSN's key hidden).
    var summary: String {
        guard let dsn else { return "sentry: no dsn in the file; SENTRY_DSN must give one, else nothing is sent" }
        return "sentry: events to \(dsn.envelopeURL) (key hidden), attachments \(attachments.map(\.rawValue).joined(separator: ", ")), at most \(maxEventBytes) bytes each"
    }

    /// The settings with the DSN from `SENTRY_DSN` when the file gives none; nil when there is
    /// still no DSN (nothing to send) or the variable's DSN is malformed.
    func resolved(environment variables: [String: String]) throws(SentryDSNError) -> SentrySettings? {
        if dsn != nil { return self }
        guard let text = variables["SENTRY_DSN"], !text.isEmpty else { return nil }
        var copy = self
        copy.dsn = try SentryDSN(text)
        return copy
    }
}
