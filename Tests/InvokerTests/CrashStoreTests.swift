// The crash store on a real SQLite file, one layer at a time: groups and counts, the crash-loop
// and regression decisions, pruning within the limits (never a group's first report, never the
// report just written), a corrupt or foreign file, catching up on reports a failed write missed,
// and `invoker list` on 10,000 reports.

#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
import TracerKit
@testable import Invoker

/// A store entry for a report file of `bytes` bytes that really exists in `directory`.
func storeEntry(_ directory: String, _ name: String, fingerprint: String, time: Int, bytes: Int = 1000,
                build: String = "aaaa1111", state: String = "new", compact: Bool = false) -> StoreEntry {
    let path = directory + "/" + name + ".log"
    _ = try? TrafficServerSandbox.write(String(repeating: "x", count: bytes), to: path)
    return StoreEntry(time: time, pid: 100, executable: "/usr/bin/traffic_server", buildID: build, serverVersion: nil,
                      signal: 11, faultKind: "null-dereference", fingerprint: fingerprint, state: state, compact: compact,
                      textPath: path, jsonPath: nil, bytes: bytes)
}

@Suite(.timeLimit(.minutes(1))) struct CrashStoreTests {
    let now = 1_800_000_000

    func newStore() throws -> (CrashStore, String) {
        let directory = makeTemporaryDirectory("invoker-store")
        return (try #require(try CrashStore.open(directory: directory, readOnly: false)), directory)
    }

    @Test func groupsCountEveryCrashAndTheFileIsRootOnly() throws {
        let (store, directory) = try newStore()
        for index in 0..<3 { try store.record(storeEntry(directory, "a\(index)", fingerprint: "fp1:aaaa", time: now + index), now: now) }
        try store.record(storeEntry(directory, "b", fingerprint: "fp1:bbbb", time: now + 10), now: now)
        // The same file twice is one row.
        try store.record(storeEntry(directory, "b", fingerprint: "fp1:bbbb", time: now + 10), now: now)
        let groups = try store.groups()
        #expect(groups.map(\.fingerprint) == ["fp1:bbbb", "fp1:aaaa"])
        #expect(groups.map(\.count) == [1, 3])
        #expect(groups[1].firstSeen == now && groups[1].lastSeen == now + 2)
        #expect(groups[1].versions == ["build-id aaaa1111"])
        #expect(fileMode(store.path) == 0o600)
        #expect(try store.reports(since: nil, fingerprint: "aaaa").count == 3)
        #expect(try store.report(matching: "latest")?.textPath == directory + "/b.log")
        // The Sentry forwarder's hook: what was sent shows in the report's row.
        try store.recordSentry("event 0123abcd", forReport: directory + "/b.log")
        #expect(try store.report(matching: "latest")?.sentry == "event 0123abcd")
    }

    @Test func aLoopIsDecidedFromFullReportsInTheWindow() throws {
        let (store, directory) = try newStore()
        var settings = StoreSettings()
        settings.loopReports = 2
        settings.loopWindow = 60
        func decide(at time: Int) throws -> Occurrence {
            let status = try store.status(of: "fp1:aaaa", version: "build-id aaaa1111", now: time, window: 60)
            return Triage.occurrence(status: status, settings: settings, version: "build-id aaaa1111")
        }
        #expect(try decide(at: now).state == .new)
        try store.record(storeEntry(directory, "a0", fingerprint: "fp1:aaaa", time: now), now: now)
        #expect(try decide(at: now + 1).state == .repeat)
        try store.record(storeEntry(directory, "a1", fingerprint: "fp1:aaaa", time: now + 1, state: "repeat"), now: now)
        #expect(try store.anyGroupAtLoopLimit(now: now + 2, window: 60, limit: 2))
        let looping = try decide(at: now + 2)
        #expect(looping.state == .loop && looping.compact && looping.groupCount == 3)
        // Compact records do not count towards the window, so the loop goes on while they pile up.
        try store.record(storeEntry(directory, "a2", fingerprint: "fp1:aaaa", time: now + 2, state: "loop", compact: true), now: now)
        #expect(try decide(at: now + 3).state == .loop)
        // The window passes: a full report again.
        #expect(try decide(at: now + 120).state == .repeat)
        #expect(try !store.anyGroupAtLoopLimit(now: now + 120, window: 60, limit: 2))
        // A clock that jumped backwards: reports "from the future" do not hold the loop.
        #expect(try decide(at: now - 3600).state == .repeat)
    }

    @Test func aResolvedGroupRegressesOnlyInAnotherBuild() throws {
        let (store, directory) = try newStore()
        try store.record(storeEntry(directory, "a0", fingerprint: "fp1:aaaa", time: now, build: "aaaa1111"), now: now)
        try store.resolve("fp1:aaaa", now: now + 5)
        let settings = StoreSettings()
        let sameBuild = try store.status(of: "fp1:aaaa", version: "build-id aaaa1111", now: now + 10, window: 3600)
        #expect(Triage.occurrence(status: sameBuild, settings: settings, version: "build-id aaaa1111").state == .repeat)
        let newBuild = try store.status(of: "fp1:aaaa", version: "build-id bbbb2222", now: now + 10, window: 3600)
        let occurrence = Triage.occurrence(status: newBuild, settings: settings, version: "build-id bbbb2222")
        #expect(occurrence.state == .regression)
        #expect(occurrence.detail?.contains("marked resolved") == true)
        #expect(try store.groups().first?.state == "resolved")
        // Recording the regression reopens the group.
        try store.record(storeEntry(directory, "a1", fingerprint: "fp1:aaaa", time: now + 10, build: "bbbb2222", state: "regression"), now: now)
        #expect(try store.groups().first?.state == "open")
        #expect(try store.groups().first?.versions == ["build-id aaaa1111", "build-id bbbb2222"])
    }

    @Test func pruningTakesTheOldestOfTheBiggestGroupAndKeepsFirstReports() throws {
        let (store, directory) = try newStore()
        // A loop: 10 reports of 1000 bytes; another crash: 2 reports.
        for index in 0..<10 { try store.record(storeEntry(directory, "loop\(index)", fingerprint: "fp1:aaaa", time: now + index), now: now) }
        for index in 0..<2 { try store.record(storeEntry(directory, "other\(index)", fingerprint: "fp1:bbbb", time: now + index), now: now) }
        var settings = StoreSettings()
        settings.maxStoreBytes = 5000
        settings.maxAgeDays = 0
        let result = try StorePruner.prune(store, settings: settings, now: now + 20, keep: directory + "/loop9.log")
        #expect(result.reports == 7 && result.bytes == 7000)
        let kept = try store.reports(since: nil, fingerprint: nil).map { String($0.textPath.split(separator: "/").last!) }
        #expect(Set(kept) == ["loop0.log", "loop8.log", "loop9.log", "other0.log", "other1.log"])
        #expect(access(directory + "/loop1.log", F_OK) != 0)
        #expect(access(directory + "/loop0.log", F_OK) == 0)
        // Counts keep every crash.
        #expect(try store.groups().first { $0.fingerprint == "fp1:aaaa" }?.count == 10)
        // Age: everything older than a day but first reports and the kept one.
        settings.maxStoreBytes = 0
        settings.maxAgeDays = 1
        try StorePruner.prune(store, settings: settings, now: now + 3 * 86400, keep: directory + "/loop9.log")
        #expect(Set(try store.reports(since: nil, fingerprint: nil).map { String($0.textPath.split(separator: "/").last!) })
                == ["loop0.log", "loop9.log", "other0.log"])
    }

    @Test func aCorruptOrForeignFileIsRefusedWithASentence() throws {
        let directory = makeTemporaryDirectory("invoker-store")
        try TrafficServerSandbox.write(String(repeating: "garbage ", count: 1000), to: CrashStore.path(in: directory))
        #expect(throws: StoreError.self) { try CrashStore.open(directory: directory, readOnly: false) }
        do {
            _ = try CrashStore.open(directory: directory, readOnly: true)
        } catch {
            #expect(error.description.contains("is not invoker's (not a SQLite database)"), "\(error.description)")
        }
        // Another program's SQLite file.
        let other = makeTemporaryDirectory("invoker-store")
        _ = try GRDBTestSupport.makeForeignDatabase(CrashStore.path(in: other))
        do {
            _ = try CrashStore.open(directory: other, readOnly: false)
            Issue.record("a foreign database was opened")
        } catch {
            #expect(error.description.contains("is not invoker's (it has 1 schema objects but no application id)"), "\(error.description)")
        }
    }

    @Test func listingTenThousandReportsIsFast() throws {
        let (store, directory) = try newStore()
        let entries = (0..<10_000).map { index in
            StoreEntry(time: now + index, pid: Int32(index), executable: "/usr/bin/traffic_server", buildID: "aaaa", serverVersion: nil,
                       signal: 11, faultKind: "null-dereference", fingerprint: "fp1:\(String(index % 50, radix: 16))00000000000000",
                       state: "repeat", compact: false, textPath: directory + "/crash-\(index).log", jsonPath: nil, bytes: 20_000)
        }
        let clock = ContinuousClock()
        try store.rebuild(from: entries, now: now)
        var listed: [ListedReport] = []
        let elapsed = try clock.measure { listed = try store.reports(since: nil, fingerprint: nil) }
        var table = TextTable(header: ["ID", "TIME", "FINGERPRINT"])
        let rendering = clock.measure {
            for report in listed { table.rows.append([String(report.id), String(report.time), report.fingerprint]) }
            _ = table.render()
        }
        #expect(listed.count == 10_000)
        #expect(try store.groups().count == 50)
        // A debug build on a loaded machine; the release figure is in the README.
        #expect(elapsed + rendering < .seconds(5), "listing took \(elapsed), rendering \(rendering)")
    }
}
