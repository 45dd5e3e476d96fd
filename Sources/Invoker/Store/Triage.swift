// Triage: decides how a crash relates to its group: new, a repeat, a regression of a resolved
// group (another build), or one crash too many within the crash-loop window (a compact record).

import TracerKit

enum Triage {
    /// The occurrence of a crash whose group stands at `status` (nil: never seen), built `version`.
    static func occurrence(status: GroupStatus?, settings: StoreSettings, version: String) -> Occurrence {
        guard let status else { return Occurrence(state: .new, groupCount: 1) }
        let count = status.count + 1
        if let resolved = status.resolvedAt, !status.versionSeenBeforeResolve {
            return Occurrence(state: .regression, groupCount: count,
                              detail: "this fingerprint was marked resolved on \(CrashLogWriter.formatUTC(time: resolved)); this crash is from \(version), not seen before then")
        }
        if settings.loopReports > 0, status.fullReportsInWindow >= settings.loopReports {
            return Occurrence(state: .loop, groupCount: count, compact: true,
                              detail: "crash loop: \(status.fullReportsInWindow) full reports of this fingerprint in the last \(Int(settings.loopWindow)) s (loop_reports = \(settings.loopReports)); this is a compact record: the crashing thread only, the variables and external tracers skipped")
        }
        return Occurrence(state: .repeat, groupCount: count)
    }
}
