// TrafficServerRecords: the "Traffic Server Configuration Records:" section traffic_crashlog
// writes under traffic_manager: every record and metric, "name value" a line. They come from where
// traffic_crashlog reads them, traffic_manager's management API, here through traffic_ctl (found
// next to the server's binary, no shell, no PATH search): `metric match .` (process and node
// metrics) then `config match .` (configuration and local records, printed "name: value").
// It runs after the server is released, so it costs no downtime, and is bounded in time; it runs
// on the calling thread (BlockingCommand), as it must in the process the early release forked.
// Without traffic_manager (ATS 10 has none; a traffic_server started directly) nothing serves
// the records: the reason is returned instead.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

/// Reads Traffic Server's records from traffic_manager.
public struct TrafficServerRecords: Sendable {
    /// What came of reading the records.
    public enum Outcome: Sendable, Equatable {
        /// The records, "name value" a line, metrics first.
        case records([String])
        /// Why there are none (a sentence).
        case absent(String)
    }

    /// The server's binary; traffic_ctl is looked for beside it.
    public var executable: String
    /// The server's command line (traffic_manager starts it with -M).
    public var commandLine: [String]
    /// The server's parent, from its /proc status read before the capture.
    public var parentPID: Int32?
    /// How long each traffic_ctl run may take.
    public var timeout: Double

    public init(executable: String, commandLine: [String], parentPID: Int32?, timeout: Double = 3) {
        self.executable = executable; self.commandLine = commandLine; self.parentPID = parentPID
        self.timeout = timeout
    }

    /// traffic_ctl beside the server's binary.
    var trafficCtl: String {
        (executable.split(separator: "/", omittingEmptySubsequences: false).dropLast() + ["traffic_ctl"]).joined(separator: "/")
    }

    /// Why no traffic_manager serves this server's records, or nil when one does.
    public var whyNoManager: String? {
        let parentName = parentPID.flatMap { ProcFile.readText("/proc/\($0)/comm", limit: 64)?.trimmingWhitespace() }
        if commandLine.contains("-M") || parentName == "traffic_manager" { return nil }
        return "traffic_server was not started by traffic_manager (-M), which alone serves the records (ATS 10 has no traffic_manager)"
    }

    /// Why traffic_ctl must not be run as root, or nil: the server's directory may be the
    /// server user's, who must not get a program of theirs run by root. traffic_ctl and its
    /// directory must be root's and writable by no one else (a tracer program's rule).
    var whyNotTrusted: String? {
        guard geteuid() == 0 else { return nil }
        let directory = (trafficCtl.split(separator: "/", omittingEmptySubsequences: false).dropLast()).joined(separator: "/")
        for path in [trafficCtl, directory.isEmpty ? "/" : directory] {
            var info = stat()
            guard stat(path, &info) == 0 else { return "\(path) is not there" }
            if info.st_uid != 0 || info.st_mode & 0o022 != 0 {
                return "refusing to run \(trafficCtl) as root: \(path) is owned by uid \(info.st_uid), mode \(String(info.st_mode & 0o777, radix: 8)) (it must be root's and writable by no one else)"
            }
        }
        return nil
    }

    /// Reads the records, bounded by `timeout` per traffic_ctl run and by `deadline`.
    public func read(deadline: Deadline) -> Outcome {
        if let reason = whyNoManager ?? whyNotTrusted { return .absent(reason) }
        var lines: [String] = []
        for (kind, separator) in [("metric", " "), ("config", ": ")] {
            let run = BlockingCommand([trafficCtl, kind, "match", "."], timeout: timeout).run(deadline: deadline)
            let output = run.output
            guard run.exitStatus == 0 else {
                let said = output.split(separator: "\n").first.map { ": \($0)" } ?? ""
                return .absent("\(trafficCtl) \(kind) match . \(run.outcome)\(said)")
            }
            lines += Self.parse(output, separator: separator)
        }
        return lines.isEmpty ? .absent("traffic_manager listed no records") : .records(lines)
    }

    /// traffic_ctl's "name: value" (config) or "name value" (metric) lines as "name value".
    static func parse(_ output: String, separator: String) -> [String] {
        output.split(separator: "\n").compactMap { (line: Substring) -> String? in
            guard line.hasPrefix("proxy."), let range = line.firstRange(of: separator) else { return nil }
            return String(line[..<range.lowerBound]) + " " + String(line[range.upperBound...])
        }
    }
}
