// CrashLoopGuard: fingerprints a crash and asks the store (read-only) how its group stands, so a
// crash loop costs a compact record instead of a full report with every tracer.
//
// Two moments. Early, during the server's downtime, right after the unwinder's capture and only
// when an expensive tracer (variables, external programs) would follow: one cheap query first
// ("is any group at its limit?"), and only then the crashing thread is symbolized for its
// fingerprint. Late, after symbolizing (the server released when it can be): every report gets
// its fingerprint and occurrence there.

import Logging
import TracerKit
import Tracers

struct CrashLoopGuard {
    let directory: String
    let settings: StoreSettings
    /// Whether the store is consulted (crash reports written to files, the store enabled).
    let usesStore: Bool
    let logger: Logger

    /// During the downtime: true when this crash is in a loop, with the report's fingerprint and
    /// occurrence set; false (nothing changed) otherwise.
    func isLooping(report: inout CrashReport, snapshot: ProcessSnapshot) -> Bool {
        guard usesStore, settings.loopReports > 0 else { return false }
        let now = report.time, window = Int(settings.loopWindow)
        do {
            guard let store = try CrashStore.open(directory: directory, readOnly: true),
                  try store.anyGroupAtLoopLimit(now: now, window: window, limit: settings.loopReports) else { return false }
            guard let crashing = report.threads.first(where: \.isCrashing) else { return false }
            let frames = Symbolizer(modules: snapshot.modules).symbolize(crashing.frames).flattened()
            let fingerprint = Fingerprint.compute(signal: report.fault?.signal?.number,
                                                  faultKind: report.fault?.classification?.kind.rawValue, frames: frames)
            let version = Self.version(executable: report.executable, modules: snapshot.modules?.modules ?? [])
            let status = try store.status(of: fingerprint.value, version: version, now: now, window: window)
            let occurrence = Triage.occurrence(status: status, settings: settings, version: version)
            guard occurrence.compact else { return false }
            report.fingerprint = fingerprint
            report.occurrence = occurrence
            return true
        } catch {
            report.problems.append("Crash-loop check skipped: \(error.description).")
            return false
        }
    }

    /// After symbolizing: the fingerprint and, from the store, the occurrence (unless the early
    /// check set them). A compact occurrence trims the report to its compact record.
    func assess(report: inout CrashReport) {
        if report.fingerprint == nil, let crashing = report.threads.first(where: \.isCrashing) {
            report.fingerprint = Fingerprint.compute(signal: report.fault?.signal?.number,
                                                     faultKind: report.fault?.classification?.kind.rawValue,
                                                     frames: crashing.flattenedFrames)
        }
        if usesStore, report.occurrence == nil, let fingerprint = report.fingerprint {
            let version = Self.version(executable: report.executable, modules: report.modules)
            do {
                let store = try CrashStore.open(directory: directory, readOnly: true)
                let status = try store?.status(of: fingerprint.value, version: version, now: report.time,
                                               window: Int(settings.loopWindow))
                report.occurrence = Triage.occurrence(status: status, settings: settings, version: version)
            } catch {
                report.problems.append("The crash store could not be read, so this crash is not compared with earlier ones: \(error.description).")
            }
        }
        if report.occurrence?.compact == true { Self.compact(&report) }
    }

    /// Trims a report to its compact record: signal, fingerprint and the crashing thread's stack
    /// (and the main module, for its build-id).
    static func compact(_ report: inout CrashReport) {
        report.threads = report.threads.filter(\.isCrashing).map { thread in
            var thread = thread
            thread.frames = thread.frames.map { frame in
                var frame = frame
                frame.variables = []
                frame.inlined = frame.inlined.map { var level = $0; level.variables = []; return level }
                return frame
            }
            return thread
        }
        report.modules = report.modules.filter { $0.path == report.executable }
        report.processStatus = nil
        report.processLimits = nil
        report.memoryRegions = nil
        report.sections = []
        report.globals = []
    }

    /// The build a regression is judged by (as StoreEntry.version).
    static func version(executable: String, modules: [LoadedModule]) -> String {
        modules.first { $0.path == executable }?.buildID.map { "build-id " + String($0.prefix(12)) } ?? "unknown build"
    }
}
