// Dispatcher+DebugInfoCache: after the report is written, and only once the server no longer
// waits for us, the compressed separate debug files the run read are stored uncompressed in the
// debug-info cache (debug_info_cache), so the next crash's variables tracer and symbolizer open
// them without inflating zlib (DebugInfoCache says why that matters); past debug_info_cache_limit
// the least recently used files go.

import Logging
import TracerKit

extension Dispatcher {
    /// The configured cache, activated (libdwfl searches it first from now on), or nil; and what
    /// keeps it from being used, for the report. The built-in default is for root: when it cannot
    /// be used (another user, a read-only /var) that is only logged, not a problem of the report.
    func activateDebugInfoCache() -> (cache: DebugInfoCache?, problem: DebugInfoCache.Failure?) {
        guard let directory = configuration.debugInfoCache else { return (nil, nil) }
        let cache = DebugInfoCache(directory: directory)
        guard let failure = cache.activate() else { return (cache, nil) }
        if configuration.debugInfoCacheIsDefault {
            logger.debug("debug-info cache: \(failure)")
            return (nil, nil)
        }
        return (nil, failure)
    }

    /// Stores `files` (the run's separate debug files) in `cache`, uncompressed, marks the ones
    /// read from it as used, and removes the least recently used files past `limit` bytes (never
    /// this run's); what cannot be stored is logged (the report is already written).
    func fillDebugInfoCache(_ cache: DebugInfoCache, with files: [ModuleIndex.SeparateDebugFile], limit: UInt64) {
        for file in files where !cache.holds(file.path) {
            let started = Deadline.now()
            switch cache.store(file.path, buildID: file.buildID) {
            case .success(true):
                logger.info("stored \(file.path) uncompressed in the debug-info cache \(cache.directory) in \(Deadline.millisecondsSince(started)) ms")
            case .success(false):
                break
            case .failure(let failure):
                logger.warning("debug-info cache: \(failure)")
            }
        }
        for removed in cache.keep(within: limit, afterRunThatRead: files) {
            logger.info("removed \(removed.path) (\(removed.bytes >> 20) MiB, least recently used) from the debug-info cache: it holds at most \(limit >> 20) MiB (debug_info_cache_limit)")
        }
    }
}
