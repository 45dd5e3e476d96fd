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

    /// The early check's answer.
    enum Verdict {
        /// Not in a loop, or not asked (no store, no limit reached anywhere).
        case notLooping
        /// In a loop: the report is compact and the expensive tracers are skipped.
        case looping(Fingerprint, Occurrence)
        /// The store could not be asked: the sentence for the report.
        case unknown(String)
    }

    /// During the downtime, right after the unwinder: whether the crash `capture` holds (its
    /// unwound stacks, fault and executable) is in a loop. `modules` name the crashing thread's
    /// frames for the fingerprint.
    func verdict(on capture: CaptureRecord, modules: ModuleIndex?) -> Verdict {
        guard usesStore, settings.loopReports > 0 else { return .notLooping }
        let now = capture.time, window = Int(settings.loopWindow)
        do {
            guard let store = try CrashStore.open(directory: directory, readOnly: true),
                  try store.anyGroupAtLoopLimit(now: now, window: window, limit: settings.loopReports) else { return .notLooping }
            guard let crashing = capture.stacks?.threads.first(where: \.isCrashing) else { return .notLooping }
            let frames = Symbolizer(modules: modules).symbolize(crashing.frames).flattened()
            let fingerprint = Fingerprint.compute(signal: capture.fault?.signal?.number,
                                                  faultKind: capture.fault?.classification?.kind.rawValue, frames: frames)
            let version = Self.version(executable: capture.executable, modules: modules?.modules ?? [])
            let status = try store.status(of: fingerprint.value, version: version, now: now, window: window)
            let occurrence = Triage.occurrence(status: status, settings: settings, version: version)
            guard occurrence.compact else { return .notLooping }
            return .looping(fingerprint, occurrence)
        } catch {
            return .unknown("Crash-loop check skipped: \(error.description).")
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
