// LogLayout: which traffic_crashlog's thread layout the text log follows. Operators' scripts grep
// the one their Traffic Server wrote: 9.x prints "Thread 6489, [TS_MAIN]:" and frames as
// "0    0x… function + 0x…"; ATS 10's (master's) prints "Crashing Thread (TID n, name):", then
// "Other Non-Crashing Threads:" and "Thread (TID n, name):", frames as "0   0x… function + 0x…".
// invoker.conf's log_layout chooses; "auto" (the default) takes the layout of the Traffic Server
// that started us: its binary's version, else its crash payload's layout, else ATS 10's.

import TracerKit

/// The thread layout of the text crash log.
enum LogLayout: String, CaseIterable, Sendable {
    /// traffic_crashlog 9.x: "Thread <tid>, <name>:", the crashing thread first.
    case ats9
    /// traffic_crashlog 10 (master): "Crashing Thread (TID <tid>, <name>):", then the others.
    case ats10

    /// The layout for `report` when the configuration says "auto": the server's major version
    /// ("Traffic Server 9.2.9" → ats9), else the payload's (an ATS 9 payload → ats9, which 10.0
    /// and 10.1 also send, hence the binary's version first), else ats10.
    static func automatic(for report: CrashReport) -> LogLayout {
        if let version = report.serverVersion?.split(separator: " ").last,
           let major = version.split(separator: ".").first.flatMap({ Int($0) }) {
            return major < 10 ? .ats9 : .ats10
        }
        if report.fault?.payloadVersion == .ats9 { return .ats9 }
        return .ats10
    }
}
