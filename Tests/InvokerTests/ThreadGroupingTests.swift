// Thread grouping on constructed reports: which threads group, in what order, how names and tids
// are compressed, and that the text log, the JSON report and the test's own log reader agree on
// every member.

import Foundation
import TestSupport
import Testing
import TracerKit
@testable import Invoker

/// A thread whose frames are (function, line) pairs in one file.
func constructedThread(_ tid: Int32, _ name: String, _ stack: [(String, Int)], crashing: Bool = false,
                       variables: [Variable] = []) -> ThreadReport {
    var frames: [Frame] = []
    for (index, (function, line)) in stack.enumerated() {
        var frame = Frame(index: index, pc: 0x1000 + UInt64(index * 16 + Int(tid % 4)), stackPointer: 0x7000, recovery: .callFrameInfo)
        frame.symbol.function = function
        frame.symbol.file = "server.c"
        frame.symbol.line = line
        frame.symbol.module = "/usr/bin/server"
        if index == 0 { frame.variables = variables }
        frames.append(frame)
    }
    return ThreadReport(tid: tid, name: name, isCrashing: crashing, registers: nil, frames: frames)
}

/// A report of a server: the crashing main thread, 84 event threads waiting alike (created in
/// a shuffled order), 2 task threads alike, one odd thread, and one thread at another line.
func constructedServerReport() -> CrashReport {
    var report = CrashReport(pid: 100, executable: "/usr/bin/server", commandLine: ["server"], hostTriplet: nil, time: 0, fault: nil)
    let wait = [("epoll_wait", 30), ("NetHandler::waitForActivity", 40), ("EThread::execute", 50)]
    report.threads.append(constructedThread(100, "[TS_MAIN]", [("crash_here", 10), ("main", 20)], crashing: true))
    for number in (0..<84).reversed() {
        report.threads.append(constructedThread(1200 + Int32(number), "[ET_NET \(number)]", wait))
    }
    report.threads.append(constructedThread(1300, "[ET_TASK 0]", [("pthread_cond_wait", 60), ("EThread::execute", 50)]))
    report.threads.append(constructedThread(1301, "[ET_TASK 1]", [("pthread_cond_wait", 60), ("EThread::execute", 50)]))
    report.threads.append(constructedThread(1400, "[LOG_FLUSH]", [("write", 70), ("flush", 80)]))
    // Same functions, one line apart: another stack.
    report.threads.append(constructedThread(1500, "[ET_NET 84]", [("epoll_wait", 31), ("NetHandler::waitForActivity", 40), ("EThread::execute", 50)]))
    return report
}

@Suite(.timeLimit(.minutes(1))) struct ThreadGroupingTests {
    @Test func crashingThreadFirstThenOddOnesThenLargestLast() {
        let report = constructedServerReport()
        let groups = ThreadGrouping.groups(of: report.threads)
        let described = groups.map { group in (group.id, group.count, report.threads[group.members[0]].name) }
        #expect(described.map(\.0) == [1, 2, 3, 4, 5])
        #expect(described.map(\.1) == [1, 1, 1, 2, 84])
        #expect(described.map(\.2) == ["[TS_MAIN]", "[LOG_FLUSH]", "[ET_NET 84]", "[ET_TASK 0]", "[ET_NET 0]"])
        #expect(groups[0].isCrashing && !groups[1...].contains { $0.isCrashing })
        // Every thread in exactly one group; the ids per thread point back at it.
        #expect(groups.flatMap(\.members).sorted() == Array(report.threads.indices))
        let ids = ThreadGrouping.groupIDs(groups, threadCount: report.threads.count)
        for group in groups { #expect(group.members.allSatisfy { ids[$0] == group.id }) }
    }

    @Test func membersAreOrderedByNameSoNamesAndTIDsExpandAlike() {
        let report = constructedServerReport()
        let big = ThreadGrouping.groups(of: report.threads).last!
        let members = big.members.map { report.threads[$0] }
        #expect(members.map(\.name) == (0..<84).map { "[ET_NET \($0)]" })
        #expect(ThreadGrouping.compressedNames(members.map(\.name)) == "[ET_NET 0..83]")
        #expect(ThreadGrouping.compressedTIDs(members.map(\.tid)) == "1200-1283")
        #expect(ThreadGrouping.header(big, report.threads) == "84 threads (TIDs 1200-1283), [ET_NET 0..83]:")
    }

    @Test(arguments: [
        (["worker-0", "worker-1", "worker-2", "worker-5", "main", "main"], "worker-0..2,5, main ×2"),
        (["pool-007", "pool-008"], "pool-007, pool-008"),
        (["a", "b"], "a, b"),
        (["w3", "w3", "w4"], "w3,3..4"),
        (["<script>x", "<script>x"], "<script>x ×2"),
        // Traffic Server's AIO threads vary in their first number.
        ((0..<8).map { "[ET_AIO \($0):31]" }, "[ET_AIO 0..7:31]"),
        // A tie (two families either way): the last number varies.
        (["[ACCEPT 0:8080]", "[ACCEPT 0:8443]", "[ACCEPT 1:8080]"], "[ACCEPT 0:8080,8443], [ACCEPT 1:8080]"),
        // Names that are not ASCII are read by Character: a digit that carries a combining mark
        // is no digit; others number as ASCII names do.
        (["wörker-1", "wörker-2", "wörker-3"], "wörker-1..3"),
        (["w1\u{301}", "w2\u{301}"], "w1\u{301}, w2\u{301}"),
    ])
    func namesAreCompressedIntoFamiliesAndRuns(names: [String], compressed: String) {
        #expect(ThreadGrouping.compressedNames(names) == compressed)
        // The test's log reader expands them back.
        #expect(CrashLog.expandNames(compressed) == names)
    }

    @Test func differentVariableValuesKeepThreadsApart() {
        let stack = [("wait_for_work", 10)]
        let threads = [
            constructedThread(1, "w-0", stack, variables: [Variable(name: "id", kind: "local", type: "int", value: "0")]),
            constructedThread(2, "w-1", stack, variables: [Variable(name: "id", kind: "local", type: "int", value: "1")]),
            constructedThread(3, "w-2", stack, variables: [Variable(name: "id", kind: "local", type: "int", value: "1")]),
        ]
        #expect(ThreadGrouping.groups(of: threads).map(\.count) == [1, 2])
    }

    /// The last grouping is kept for the same threads (the guard's text, the log and the JSON of
    /// one report): a changed copy of them is grouped again, and the original still has its own.
    @Test func aChangedCopyOfTheThreadsIsGroupedAgain() {
        let report = constructedServerReport()
        let original = ThreadGrouping.groups(of: report.threads)
        var changed = report.threads
        changed[changed.count - 1].frames[0].symbol.line = 30  // [ET_NET 84] now waits as the others do
        let regrouped = ThreadGrouping.groups(of: changed)
        #expect(regrouped.map(\.count) == [1, 1, 2, 85])
        #expect(ThreadGrouping.groups(of: report.threads) == original)
        #expect(original.map(\.count) == [1, 1, 1, 2, 84])
    }

    @Test func textLogPrintsGroupsOnceAndEveryThreadWhenAsked() {
        let report = constructedServerReport()
        let grouped = CrashLogWriter(report: report, helperVersion: "test").render()
        #expect(grouped.contains("Crashing Thread (TID 100, [TS_MAIN]):"))
        #expect(grouped.contains("84 threads (TIDs 1200-1283), [ET_NET 0..83]:\n0   0x"))
        #expect(grouped.contains("2 threads (TIDs 1300-1301), [ET_TASK 0..1]:"))
        #expect(grouped.contains("Thread (TID 1400, [LOG_FLUSH]):"))
        // The odd ones come before the big group.
        #expect(grouped.range(of: "[LOG_FLUSH]")!.lowerBound < grouped.range(of: "84 threads")!.lowerBound)
        #expect(grouped.components(separatedBy: "NetHandler::waitForActivity").count - 1 == 2)
        // Read back, every thread is there with its own tid, name and the group's stack.
        let log = CrashLog(grouped)
        #expect(log.threads.count == report.threads.count)
        for thread in report.threads {
            let read = log.threads.first { $0.tid == thread.tid }
            #expect(read?.name == thread.name)
            #expect(read?.functions == thread.frames.map { $0.function! })
        }
        #expect(log.groups.map(\.count) == [2, 84])
        // Ungrouped, as before: a heading per thread.
        let full = CrashLogWriter(report: report, helperVersion: "test", groupThreads: false).render()
        #expect(full.components(separatedBy: "\nThread (TID ").count - 1 == report.threads.count - 1)
        #expect(!full.contains(" threads (TIDs "))
        // invoker show --all-threads puts the full listing in place of the grouped one.
        let shown = ThreadListing.replace(in: grouped, with: CrashLogWriter(report: report, helperVersion: "test", groupThreads: false).renderThreadListing())
        #expect(shown == full)
    }

    @Test func trafficServer9LayoutKeepsItsHeadingsAndGroupsToo() {
        let report = constructedServerReport()
        let grouped = CrashLogWriter(report: report, helperVersion: "test", layout: .ats9).render()
        #expect(grouped.contains("\nThread 100, [TS_MAIN]:\n0    0x"))
        #expect(grouped.contains("\nThread 1400, [LOG_FLUSH]:\n"))
        #expect(grouped.contains("\n84 threads (TIDs 1200-1283), [ET_NET 0..83]:\n0    0x"))
        #expect(!grouped.contains("Crashing Thread"))
        let log = CrashLog(grouped)
        #expect(log.threads.count == report.threads.count)
        #expect(log.threads.first { $0.tid == 1250 }?.name == "[ET_NET 50]")
        // --all-threads on a 9.x log: the full listing in 9.x's layout.
        let full = CrashLogWriter(report: report, helperVersion: "test", layout: .ats9, groupThreads: false)
        #expect(ThreadListing.layout(of: grouped) == .ats9)
        #expect(ThreadListing.replace(in: grouped, with: full.renderThreadListing()) == full.render())
    }

    @Test func jsonReportKeepsEveryThreadAndAddsItsGroup() throws {
        let report = constructedServerReport()
        let text = JSONReportFormatter(options: ReportFormatOptions(kind: "crash", helperVersion: "test")).render(report)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let threads = try #require(object["threads"] as? [[String: Any]])
        let groups = try #require(object["thread_groups"] as? [[String: Any]])
        #expect(threads.count == report.threads.count)
        #expect(groups.compactMap { $0["count"] as? Int }.reduce(0, +) == threads.count)
        #expect(groups.compactMap { $0["count"] as? Int } == [1, 1, 1, 2, 84])
        #expect(groups.last?["names"] as? String == "[ET_NET 0..83]")
        #expect((groups.last?["tids"] as? [Int])?.first == 1200)
        for thread in threads {
            let id = try #require(thread["group"] as? Int)
            let group = try #require(groups.first { $0["id"] as? Int == id })
            #expect((group["tids"] as? [Int])?.contains(thread["tid"] as! Int) == true)
        }
    }
}
