// CacheDebugInfoCommand: `invoker cache-debug-info --pid PID` stores the compressed separate debug
// files of a running process's modules uncompressed in the debug-info cache (debug_info_cache),
// so that not even the first crash after debug packages are installed or upgraded inflates them
// while the server is stopped (a crash or a snapshot fills the cache too, but only after it has
// paid once). It reads /proc/PID/maps and files: the process is neither stopped nor traced.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import TracerKit

struct CacheDebugInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache-debug-info",
        abstract: "Store a running process's compressed debug files uncompressed in the debug-info cache.")

    @Option(name: .long, help: "The process whose modules' debug files are stored.")
    var pid: Int32

    @Option(name: .long, help: "The configuration file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

    func run() throws {
        let configuration = try ChainAssembly.forCommand(explicit: config)
        guard let directory = configuration.debugInfoCache else {
            throw CommandFailure(.nothing, "invoker: debug_info_cache is \"\" in the configuration: there is no cache to fill")
        }
        let cache = DebugInfoCache(directory: directory)
        if let failure = cache.activate() { throw CommandFailure(.nothing, "invoker: \(failure)") }
        guard let modules = ModuleIndex(pid: pid) else {
            throw CommandFailure(.nothing, "invoker: libdwfl could not begin a session for process \(pid)")
        }
        if let problem = modules.problem { throw CommandFailure(.nothing, "invoker: \(problem)") }
        var failures: [String] = []
        let entries = cache.fill(from: modules)
        for entry in entries {
            switch entry.outcome {
            case .success(true): print("stored \(entry.file.path) as \(cache.path(forBuildID: entry.file.buildID))")
            case .success(false) where access(cache.path(forBuildID: entry.file.buildID), F_OK) == 0:
                print("already stored: \(entry.file.path)")
            case .success(false): print("nothing compressed, read as it is: \(entry.file.path)")
            case .failure(let failure): failures.append("invoker: \(failure)")
            }
        }
        // What this process uses stays; past debug_info_cache_limit the least recently used go.
        for removed in cache.keep(within: configuration.debugInfoCacheLimit, afterRunThatRead: entries.map(\.file)) {
            print("removed \(removed.path) (least recently used; debug_info_cache_limit is \(configuration.debugInfoCacheLimit) bytes)")
        }
        if !failures.isEmpty { throw CommandFailure(.partial, messages: failures) }
    }
}
