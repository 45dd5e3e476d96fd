// SentryForwarder+Store: what was delivered to Sentry goes into the crash store's row of its
// report, so `invoker list` shows Sentry's event id beside the crash (the outbox's sent/ records
// stay the forwarder's own account; the store may be off, missing or damaged: then only those).

#if canImport(Glibc)
import Glibc
#endif

extension SentryForwarder {
    /// Notes `record` in the store beside its report, if there is one; failures are logged only.
    func noteInStore(_ record: SentRecord) {
        guard let report = record.report, let slash = report.lastIndex(of: "/") else { return }
        let directory = String(report[..<slash])
        // Never create a store here: it is made (with its checks) by the helper that indexes reports.
        guard access(CrashStore.path(in: directory), F_OK) == 0 else { return }
        do {
            try CrashStore.open(directory: directory, readOnly: false)?
                .recordSentry("event " + (record.sentryEventID ?? record.eventID), forReport: report)
        } catch {
            logger.warning("Sentry event \(record.sentryEventID ?? record.eventID) sent, but the crash store could not note it: \(error.description)")
        }
    }
}
