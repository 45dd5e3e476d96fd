// SyslogLogHandler: swift-log messages to syslog(3) with facility LOG_DAEMON, as traffic_crashlog
// and backtrace-invoker log. StandardError is used instead under --debug.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import Logging

/// Sends log records to syslog.
struct SyslogLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    /// Opens the syslog connection once, with `ident` as the program name.
    static func open(ident: String) {
        // openlog keeps the pointer: give it storage that lives as long as the process.
        let stored = strdup(ident)
        ivk_openlog(stored)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let priority: Int32 = switch event.level {
        case .trace, .debug: LOG_DEBUG
        case .info: LOG_INFO
        case .notice: LOG_NOTICE
        case .warning: LOG_WARNING
        case .error: LOG_ERR
        case .critical: LOG_CRIT
        }
        ivk_syslog(priority, "\(event.message)")
    }
}
