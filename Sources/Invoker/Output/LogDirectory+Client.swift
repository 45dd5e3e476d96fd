// LogDirectory+Client: where reports go for a program armed by libinvoker-client (`--client`),
// which has no Traffic Server log directory: --log-dir, else $INVOKER_LOG_DIR, else the
// configuration's output_dir, else /var/crash/invoker (created, mode 0700, when missing).

#if canImport(Glibc)
import Glibc
#endif

extension LogDirectory {
    /// The default report directory of client programs.
    static let clientDefault = "/var/crash/invoker"

    static func forClient(explicit: String?, configured: String?, environment: EnvironmentVariables = .process) -> LogDirectory {
        var chosen: LogDirectory
        if let explicit {
            chosen = LogDirectory(path: explicit, source: "--log-dir")
        } else if let value = environment["INVOKER_LOG_DIR"], !value.isEmpty {
            chosen = LogDirectory(path: value, source: "INVOKER_LOG_DIR")
        } else if let configured {
            chosen = LogDirectory(path: configured, source: "output_dir")
        } else {
            if !isDirectory(clientDefault) {
                mkdir("/var/crash", 0o755)
                mkdir(clientDefault, 0o700)
            }
            chosen = LogDirectory(path: clientDefault, source: "default")
        }
        chosen.problem = usabilityProblem(chosen)
        return chosen
    }
}
