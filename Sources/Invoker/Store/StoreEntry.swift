// StoreEntry: one report as the crash store indexes it: when, which process and build, which
// crash (fingerprint) and where its files are. Made from the report just written, or read back
// from a JSON report file (`invoker store rebuild`, and reports a failed index write missed).

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

/// A report's row in the crash store.
struct StoreEntry: Equatable {
    /// Seconds since the epoch when the report was started.
    var time: Int
    var pid: Int32
    var executable: String
    /// The main module's GNU build-id.
    var buildID: String?
    /// The server's own version, when the report carries it.
    var serverVersion: String?
    var signal: Int32?
    var faultKind: String?
    var fingerprint: String
    /// new, repeat, regression or loop.
    var state: String
    /// A compact record: the expensive tracers were skipped.
    var compact: Bool
    var textPath: String
    var jsonPath: String?
    /// Bytes of the report's files together.
    var bytes: Int

    /// The build a regression is judged by: the main module's build-id (known at the crash-loop
    /// check already, unlike the server's version, read after the release).
    var version: String { buildID.map { "build-id " + String($0.prefix(12)) } ?? "unknown build" }

    /// The entry of a report just written at `location`.
    init(report: CrashReport, location: ReportLocation) {
        time = report.time
        pid = report.pid
        executable = report.executable
        buildID = report.modules.first { $0.path == report.executable }?.buildID
        serverVersion = report.serverVersion
        signal = report.fault?.signal?.number
        faultKind = report.fault?.classification?.kind.rawValue
        fingerprint = report.fingerprint?.value ?? "fp1:unknown"
        state = report.occurrence?.state.rawValue ?? Occurrence.State.new.rawValue
        compact = report.occurrence?.compact ?? false
        textPath = location.reportPath ?? ""
        jsonPath = location.jsonPath
        bytes = (location.textPath.map(Self.size) ?? 0) + (location.jsonPath.map(Self.size) ?? 0)
    }

    init(time: Int, pid: Int32, executable: String, buildID: String?, serverVersion: String?, signal: Int32?,
         faultKind: String?, fingerprint: String, state: String, compact: Bool, textPath: String, jsonPath: String?, bytes: Int) {
        self.time = time; self.pid = pid; self.executable = executable; self.buildID = buildID
        self.serverVersion = serverVersion; self.signal = signal; self.faultKind = faultKind
        self.fingerprint = fingerprint; self.state = state; self.compact = compact; self.textPath = textPath
        self.jsonPath = jsonPath; self.bytes = bytes
    }

    /// The entry of the JSON report at `jsonPath` (its text report beside it, same base name);
    /// nil if it is not a crash report with a fingerprint.
    static func read(jsonPath: String) -> StoreEntry? {
        guard case .success(let bytes) = ProcFile.readBytes(jsonPath, limit: 64 << 20),
              let document = try? ReportDocument.decode(bytes),
              document.kind == "crash", let fingerprint = document.fault?.fingerprint,
              let time = document.timeUnix, let executable = document.process.executable else { return nil }
        let textPath = String(jsonPath.dropLast(".json".count)) + ".log"
        let buildID = document.modules.first { $0.path == executable }?.buildId
        return StoreEntry(time: time, pid: document.process.pid, executable: executable,
                          buildID: buildID, serverVersion: document.process.serverVersion, signal: document.fault?.signal?.number,
                          faultKind: document.fault?.classification?.kind, fingerprint: fingerprint,
                          state: document.occurrence?.state ?? "new", compact: document.occurrence?.compact ?? false,
                          textPath: textPath, jsonPath: jsonPath, bytes: size(of: textPath) + size(of: jsonPath))
    }

    static func size(of path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}
