// The debug-info cache (debug_info_cache): a run stores the compressed separate debug files it
// read (libc6-dbg's) uncompressed, by build-id, once its report is written; the next run reads
// them from there, and its values are the same.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import TestSupport
import TracerKit
@testable import Invoker
import Testing

@Suite(.timeLimit(.minutes(2)), .serialized, .enabled(if: ptraceUnavailableReason() == nil,
                             "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct DebugInfoCacheTests {
    /// The timing note that counts the run's separate debug files and those from the cache.
    static func debugFileNote(_ report: [String: Any]) -> (read: Int, cached: Int)? {
        for note in report["timing"] as? [String] ?? [] {
            if let match = note.firstMatch(of: /([0-9]+) separate debug files read, ([0-9]+) of them from the debug-info cache/) {
                return (Int(match.1)!, Int(match.2)!)
            }
        }
        return nil
    }

    /// Every frame's function and variables (name, value, note), as the JSON report has them.
    static func frames(_ report: [String: Any]) -> [String] {
        (report["threads"] as? [[String: Any]] ?? []).flatMap { thread in
            (thread["frames"] as? [[String: Any]] ?? []).map { frame in
                let variables = (frame["variables"] as? [[String: Any]] ?? []).map {
                    "\($0["name"] ?? "") = \($0["value"] ?? "-") \($0["note"] ?? "")"
                }
                return "\(frame["function"] ?? "??"): " + variables.joined(separator: "; ")
            }
        }
    }

    @Test func aSnapshotStoresTheCLibrarysDebugFileUncompressedAndTheNextReadsItWithTheSameValues() throws {
        let cache = makeTemporaryDirectory() + "/debug-info"
        let config = try writeConfiguration("""
            debug_info_cache = "\(cache)"
            [[tracer]]
            use = "unwind"
            [[tracer]]
            use = "variables"
            max_frames = 64
            """)
        let program = try VariablesFixture(source: VariablesOracleTests.c, level: "O2").start()
        defer { program.finish() }
        let first = try snapshotReports(program.pid, config: config).json
        let firstNote = try #require(Self.debugFileNote(first), "\(first["timing"] ?? "")")
        #expect(firstNote.read >= 1 && firstNote.cached == 0)
        // The C library's separate debug file (libc6-dbg), now in the cache with no section
        // compressed (readelf's flag C).
        let libc = try #require((first["modules"] as? [[String: Any]])?.first { ($0["path"] as? String)?.hasSuffix("/libc.so.6") == true })
        let buildID = try #require(libc["build_id"] as? String)
        let stored = "\(cache)/.build-id/\(buildID.prefix(2))/\(buildID.dropFirst(2)).debug"
        #expect(access(stored, R_OK) == 0, "\(directoryEntries(cache + "/.build-id"))")
        let directory = makeTemporaryDirectory()
        let readelf = try TestProcess("/usr/bin/eu-readelf", ["-S", stored], outputPath: directory + "/sections.txt")
        #expect(readelf.waitForExit() == 0)
        let sections = (readFile(directory + "/sections.txt") ?? "").split(separator: "\n").filter { $0.contains(" .debug_") }
        #expect(sections.contains { $0.contains(" .debug_info ") }, "\(sections)")
        #expect(!sections.contains { $0.split(separator: " ").contains("C") }, "\(sections)")
        // The next run reads every one of them from the cache, and sees the same values.
        let second = try snapshotReports(program.pid, config: config).json
        let secondNote = try #require(Self.debugFileNote(second))
        #expect(secondNote.read == firstNote.read && secondNote.cached == firstNote.read)
        #expect(Self.frames(second) == Self.frames(first))
        #expect(Self.frames(first).contains { $0.hasPrefix("vars_outer: ") && $0.contains("depth = 3") }, "\(Self.frames(first))")
        program.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func cacheDebugInfoFillsTheCacheFromARunningProcessWithoutStoppingIt() throws {
        let cache = makeTemporaryDirectory() + "/debug-info"
        let config = try writeConfiguration("debug_info_cache = \"\(cache)\"\n[[tracer]]\nuse = \"unwind\"\n")
        let program = try VariablesFixture(source: VariablesOracleTests.c, level: "O0").start()
        defer { program.finish() }
        let (status, output) = try runInvoker(["cache-debug-info", "--pid", String(program.pid), "--config", config])
        #expect(status == 0, "\(output)")
        let stored = output.split(separator: "\n").filter { $0.hasPrefix("stored ") && $0.contains(cache + "/.build-id/") }
        #expect(!stored.isEmpty, "\(output)")
        #expect(program.tracer == 0 && program.state != "t")
        // A second run finds them stored; a snapshot then reads every debug file from the cache.
        let (again, repeated) = try runInvoker(["cache-debug-info", "--pid", String(program.pid), "--config", config])
        #expect(again == 0 && repeated.contains("already stored: ") && !repeated.contains("stored /"), "\(repeated)")
        let note = try #require(Self.debugFileNote(try snapshotReports(program.pid, config: config).json))
        #expect(note.read >= 1 && note.cached == note.read)
        // With no cache ("") there is nothing to fill: status 2 and the reason.
        let (none, said) = try runInvoker(["cache-debug-info", "--pid", String(program.pid), "--config",
                                           try writeConfiguration("debug_info_cache = \"\"\n[[tracer]]\nuse = \"unwind\"\n")])
        #expect(none == 2 && said.contains("debug_info_cache is \"\" in the configuration: there is no cache to fill"), "\(said)")
        program.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func aCacheOthersCanWriteIsNotUsedAndTheReportSaysSo() throws {
        let cache = makeTemporaryDirectory() + "/debug-info"
        #expect(mkdir(cache, 0o777) == 0 && chmod(cache, 0o777) == 0)
        let config = try writeConfiguration("debug_info_cache = \"\(cache)\"\n[[tracer]]\nuse = \"unwind\"\n")
        let program = try VariablesFixture(source: VariablesOracleTests.c, level: "O0").start()
        defer { program.finish() }
        let report = try snapshotReports(program.pid, config: config).json
        let problems = report["problems"] as? [String] ?? []
        #expect(problems.contains { $0.hasPrefix("Debug-info cache: the debug-info cache \(cache) is not used: it must be owned by root") }, "\(problems)")
        #expect(Self.debugFileNote(report) == nil || Self.debugFileNote(report)?.cached == 0)
        #expect(directoryEntries(cache).isEmpty)
        program.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func pastItsLimitTheCacheRemovesTheLeastRecentlyUsedFilesButNeverTheRunsOwn() throws {
        let directory = makeTemporaryDirectory() + "/debug-info"
        let cache = DebugInfoCache(directory: directory)
        #expect(cache.activate() == nil)
        // Three stored files of 64 KiB, used in the order old, middle, new (their mtimes).
        var paths: [String] = []
        for (index, name) in ["aa/old", "bb/middle", "cc/new"].enumerated() {
            let folder = directory + "/.build-id/" + name.prefix(2)
            #expect(mkdir(directory + "/.build-id", 0o755) == 0 || errno == EEXIST)
            #expect(mkdir(folder, 0o755) == 0)
            let path = folder + "/" + name.dropFirst(3) + ".debug"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: UInt8(index), count: 65536)))
            var times = [timespec(tv_sec: 1_000_000 + index * 60, tv_nsec: 0), timespec(tv_sec: 1_000_000 + index * 60, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            paths.append(path)
        }
        // A temporary file of a store under way is not the cache's to count or remove.
        #expect(FileManager.default.createFile(atPath: directory + "/.build-id/aa/.x.1.tmp", contents: Data(count: 65536)))
        #expect(cache.storedFiles().map(\.path) == paths)
        // The oldest is used again: now it is the most recent.
        cache.markUsed([paths[0]])
        #expect(cache.storedFiles().map(\.path) == [paths[1], paths[2], paths[0]])
        // Room for two: the least recently used (middle) goes.
        let total = cache.storedFiles().reduce(0) { $0 + $1.bytes }
        #expect(cache.prune(limit: total - 1).map(\.path) == [paths[1]])
        #expect(access(paths[1], F_OK) != 0 && access(paths[0], F_OK) == 0 && access(paths[2], F_OK) == 0)
        // A limit of 0 keeps only what is spared (what the run used or stored).
        #expect(cache.prune(limit: 0, sparing: [paths[2]]).map(\.path) == [paths[0]])
        #expect(cache.storedFiles().map(\.path) == [paths[2]])
        #expect(access(directory + "/.build-id/aa/.x.1.tmp", F_OK) == 0)
        // After a run: what it stored (found under its build-id) stays, whatever the limit.
        #expect(mkdir(directory + "/.build-id/dd", 0o755) == 0)
        #expect(FileManager.default.createFile(atPath: directory + "/.build-id/dd/fresh.debug", contents: Data(count: 4096)))
        let read = ModuleIndex.SeparateDebugFile(buildID: "ddfresh", path: "/usr/lib/debug/.build-id/dd/fresh.debug")
        #expect(cache.keep(within: 0, afterRunThatRead: [read]).map(\.path) == [paths[2]])
        #expect(cache.storedFiles().map(\.path) == [directory + "/.build-id/dd/fresh.debug"])
    }

    /// The built-in default cannot be used (here: a file stands where the directory would be):
    /// the run goes on without a cache and its report says nothing. A cache named in the file is
    /// the operator's wish: the same failure is a problem of the report.
    @Test func aDefaultCacheThatCannotBeUsedIsPassedOverInSilenceANamedOneIsSaid() throws {
        let blocked = makeTemporaryDirectory() + "/debug-info"
        #expect(FileManager.default.createFile(atPath: blocked, contents: Data()))
        func activation(_ path: String, isDefault: Bool) -> (cache: DebugInfoCache?, problem: DebugInfoCache.Failure?) {
            var configuration = Configuration()
            configuration.debugInfoCache = path
            configuration.debugInfoCacheIsDefault = isDefault
            return Dispatcher(configuration: configuration, outputDirectory: LogDirectory(path: "/tmp", source: "test", problem: nil),
                              serverUser: nil, hostTriplet: nil, toStandardOutput: true, logger: Logger(label: "test"))
                .activateDebugInfoCache()
        }
        let quiet = activation(blocked, isDefault: true)
        #expect(quiet.cache == nil && quiet.problem == nil)
        let named = activation(blocked, isDefault: false)
        #expect(named.cache == nil && named.problem == .notADirectory(blocked))
        // A usable default is used, made with its missing parents.
        let fresh = makeTemporaryDirectory() + "/var/cache/invoker/debug-info"
        #expect(activation(fresh, isDefault: true).cache?.directory == fresh)
        #expect(directoryEntries(fresh).isEmpty && access(fresh, W_OK) == 0)
    }
}
