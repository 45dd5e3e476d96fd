// SentryForwarder: turns a written report into an outbox envelope and delivers what the outbox
// holds. A crash is forwarded only once the server is released: when the server still waits for
// us (external tracers ran), the helper forks first and the parent exits with the report's status,
// exactly as early release does; so neither building the event nor the network can lengthen the
// downtime. Delivery failures leave the envelope in the outbox for the next run or `invoker send`.

#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Logging
import TracerKit

/// What happened to one pending envelope.
struct DeliveryOutcome: Sendable {
    enum Result: Sendable {
        case sent(SentRecord)
        case wouldSend
        case waiting(until: Int)
        case failed(String, nextAttempt: Int)
    }
    var entry: OutboxEntry
    var result: Result
}

struct SentryForwarder {
    let settings: SentrySettings
    let dsn: SentryDSN
    let outbox: Outbox
    let logger: Logger
    var clientVersion = InvokerCommand.version

    /// The forwarder for reports in `reportDirectory`, or nil when no DSN is configured (neither
    /// `[sentry] dsn` nor SENTRY_DSN). A malformed SENTRY_DSN is logged and sends nothing.
    static func make(configuration: Configuration, reportDirectory: String, environment: [String: String],
                     logger: Logger) -> SentryForwarder? {
        let resolved: SentrySettings?
        do {
            resolved = try (configuration.sentry ?? SentrySettings()).resolved(environment: environment)
        } catch {
            logger.error("SENTRY_DSN: \(error.description); nothing is sent to Sentry")
            return nil
        }
        guard let settings = resolved, let dsn = settings.dsn else { return nil }
        return SentryForwarder(settings: settings, dsn: dsn,
                               outbox: Outbox(path: Outbox.path(settings: settings, reportDirectory: reportDirectory), settings: settings),
                               logger: logger)
    }

    /// The hook after the final report is written (Dispatcher): makes the envelope and sends what
    /// the outbox holds, once `serverPID` no longer waits for this process. May fork: the parent
    /// side then exits at once with `exitStatus`.
    static func forwardAfterFinalReport(_ report: CrashReport, kind: String, baseName: String, directory: String,
                                        configuration: Configuration, serverPID: Int32, logger: Logger, exitStatus: Int32) {
        guard let forwarder = make(configuration: configuration, reportDirectory: directory,
                                   environment: LogDirectory.currentEnvironment(), logger: logger) else { return }
        if kind == "snapshot" && !forwarder.settings.sendSnapshots { return }
        // A crashed server waits for its helper to exit: let it go first (see EarlyRelease).
        var forked = false
        if kind == "crash" && getppid() == serverPID {
            switch EarlyRelease.detachFromServer() {
            case .parent: _exit(exitStatus)
            case .child: forked = true
            case .unforked: break
            }
        }
        let options = ReportFormatOptions(kind: kind)
        let json = Array(ReportFormat.json.formatter(options).render(report).utf8)
        let text = Array(ReportFormat.text.formatter(options).render(report).utf8)
        let logPath = directory + "/" + baseName + ".log"
        _ = forwarder.enqueue(reportJSON: json, textLog: text, reportPath: logPath, baseName: baseName)
        _ = forwarder.deliverPending()
        // The fork may have been made on a concurrency pool thread (after the external tracers'
        // awaits): the child has that one thread, and returning into the async runtime would wait
        // for a main thread it does not have. The work is done: end here.
        if forked { _exit(exitStatus) }
    }

    /// Builds the event from `reportJSON` and puts its envelope in the outbox.
    func enqueue(reportJSON: [UInt8], textLog: [UInt8]?, reportPath: String?, baseName: String,
                 now: Int = Int(time(nil))) -> OutboxEntry? {
        let document: ReportDocument
        do {
            document = try ReportDocument.decode(reportJSON)
            if let missing = document.missingTopLevelFields.first {
                logger.error("cannot make a Sentry event: the JSON report has no \(missing)")
                return nil
            }
        } catch {
            logger.error("cannot make a Sentry event: the JSON report does not decode: \(error)")
            return nil
        }
        let eventID = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let mapper = SentryEventMapper(settings: settings, clientVersion: clientVersion)
        let (_, eventBytes) = mapper.fittedEvent(from: document, eventID: eventID)
        var envelope = SentryEnvelope(eventID: eventID, event: eventBytes)
        if settings.attachments.contains(.log), let textLog {
            envelope.attach(textLog, filename: baseName + ".log", contentType: "text/plain")
        }
        if settings.attachments.contains(.json) {
            envelope.attach(reportJSON, filename: baseName + ".json", contentType: "application/json")
        }
        guard let gzipped = Gzip.compress(envelope.encoded(sentAt: CrashLogWriter.formatUTC(time: now))) else {
            logger.error("cannot compress the Sentry envelope of \(baseName) (zlib failed)")
            return nil
        }
        do {
            let (entry, dropped) = try outbox.add(envelope: gzipped, eventID: eventID, report: reportPath, baseName: baseName, now: now)
            for reason in dropped { logger.warning("Sentry outbox \(outbox.path): dropped \(reason)") }
            return entry
        } catch {
            logger.error("\(error.description); the report is not forwarded to Sentry")
            return nil
        }
    }

    /// Sends the pending envelopes, oldest first: those whose back-off has passed (all, with
    /// `ignoreBackoff`: an operator's `invoker send`), never while Sentry's rate limit lasts
    /// (unless `ignoreRateLimit`). After a failure that would affect the rest (unreachable,
    /// rate-limited, 5xx), the rest wait too. `dryRun` sends nothing.
    func deliverPending(now: Int = Int(time(nil)), ignoreBackoff: Bool = false, ignoreRateLimit: Bool = false,
                        dryRun: Bool = false) -> [DeliveryOutcome] {
        var outcomes: [DeliveryOutcome] = []
        let limitedUntil = outbox.rateLimitedUntil()
        let transport = SentryTransport(dsn: dsn, clientVersion: clientVersion,
                                        connectTimeout: settings.connectTimeout, timeout: settings.timeout)
        var blocked: Int? = limitedUntil > now && !ignoreRateLimit ? limitedUntil : nil
        for var entry in outbox.pending() {
            if let until = blocked ?? (entry.nextAttempt > now && !ignoreBackoff ? entry.nextAttempt : nil) {
                outcomes.append(DeliveryOutcome(entry: entry, result: .waiting(until: until)))
                continue
            }
            if dryRun {
                outcomes.append(DeliveryOutcome(entry: entry, result: .wouldSend))
                continue
            }
            guard let envelope = outbox.envelope(of: entry) else {
                outbox.remove(entry)
                continue
            }
            do {
                let response = try transport.send(gzipped: envelope)
                let record = SentRecord(name: entry.name, eventID: entry.eventID, sentryEventID: response.eventID,
                                        report: entry.report, sent: now, status: response.status, url: dsn.envelopeURL)
                try? outbox.markSent(entry, record: record)
                noteInStore(record)
                logger.notice("sent \(entry.report ?? entry.name) to Sentry: event \(response.eventID ?? entry.eventID)")
                outcomes.append(DeliveryOutcome(entry: entry, result: .sent(record)))
            } catch {
                entry.attempts += 1
                entry.lastError = error.description
                var next = now + Self.backoff(attempts: entry.attempts)
                var stop = true
                if case .rejected(_, let response) = error {
                    if let until = Self.rateLimit(response, now: now) {
                        next = until
                        try? outbox.setRateLimited(until: until)
                    } else if (400..<500).contains(response.status) {
                        // Sentry refuses this envelope (bad key, too large…): the others may pass.
                        stop = false
                    }
                }
                entry.nextAttempt = next
                try? outbox.save(entry)
                logger.warning("\(error.description); \(entry.name) stays in the Sentry outbox \(outbox.path) (attempt \(entry.attempts))")
                outcomes.append(DeliveryOutcome(entry: entry, result: .failed(error.description, nextAttempt: next)))
                if stop { blocked = next }
            }
        }
        return outcomes
    }

    /// Seconds before the next attempt after `attempts` failures: 1, 2, 4 … minutes, at most 6 hours.
    static func backoff(attempts: Int) -> Int {
        min(60 << min(max(attempts - 1, 0), 16), 6 * 3600)
    }

    /// Until when a response asks us to wait: X-Sentry-Rate-Limits (the quotas that cover errors,
    /// or every category), else a 429's Retry-After (60 s when it gives none).
    static func rateLimit(_ response: SentryResponse, now: Int) -> Int? {
        if let header = response.rateLimits, !header.isEmpty {
            var seconds = 0
            for quota in header.split(separator: ",") {
                let fields = quota.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
                guard let wait = fields.first.flatMap({ Double($0) }) else { continue }
                let categories = fields.count > 1 ? fields[1].split(separator: ";").map(String.init) : []
                if categories.isEmpty || categories.contains("error") || categories.contains("default") {
                    seconds = max(seconds, Int(wait.rounded(.up)))
                }
            }
            if seconds > 0 { return now + seconds }
        }
        if response.status == 429 { return now + Int((response.retryAfter ?? 60).rounded(.up)) }
        return nil
    }
}
