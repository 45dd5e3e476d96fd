// The two text layouts, on a constructed report (no process): each is pinned byte for byte by a
// golden file (Golden/crash-ats9.log, Golden/crash-ats10.log), and the 9.x layout has the labels
// and line shapes of a real traffic_crashlog 9.2 log (Golden/traffic_crashlog-9.2.5-excerpt.log,
// from Debian's traffic_crashlog under traffic_manager). `log_layout = "auto"` picks the layout of
// the server's version. INVOKER_UPDATE_GOLDEN=1 rewrites the golden files.

#if canImport(Glibc)
import Glibc
#endif
@testable import Invoker
import Testing
import TestSupport
import TracerKit

@Suite(.timeLimit(.minutes(1)))
struct LogLayoutTests {
    static let golden = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        .joined(separator: "/")) + "/Golden/"

    /// A traffic_server crash as a 9.2 server under traffic_manager would give it.
    static func report() -> CrashReport {
        let fault = FaultContext(pid: 6489, crashingThread: 6489,
                                 signal: SignalInfo(number: SIGSEGV, code: 1, address: 0x8), payloadVersion: .ats9)
        var report = CrashReport(pid: 6489, executable: "/usr/bin/traffic_server", commandLine: ["/usr/bin/traffic_server", "-M"],
                                 hostTriplet: "x86_64-pc-linux-gnu", time: 1_796_281_067, fault: fault)
        report.fault?.classification = FaultClassification(
            kind: .nullDereference, summary: "null pointer dereference (read of 0x8)",
            evidence: ["SIGSEGV with SEGV_MAPERR (address not mapped to object)"])
        report.processName = "[TS_MAIN]"
        report.serverVersion = "Traffic Server 9.2.9"
        func frame(_ index: Int, _ pc: UInt64, _ function: String, _ offset: UInt64, _ module: String,
                   file: String? = nil, line: Int? = nil) -> Frame {
            var frame = Frame(index: index, pc: pc, stackPointer: 0x7ffc_c1a5_0000, recovery: index == 0 ? .faultContext : .callFrameInfo)
            frame.symbol.function = function
            frame.symbol.functionOffset = offset
            frame.symbol.module = module
            frame.symbol.file = file
            frame.symbol.line = line
            return frame
        }
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6", server = "/usr/bin/traffic_server"
        report.threads = [
            ThreadReport(tid: 6489, name: "[TS_MAIN]", isCrashing: true, registers: nil, frames: [
                frame(0, 0x55b3_4be1_140a, "main", 0x155a, server),
                frame(1, 0x7fbb_6084_524a, "__libc_start_call_main", 0x7a, libc, file: "../sysdeps/nptl/libc_start_call_main.h", line: 58),
            ]),
            ThreadReport(tid: 6687, name: "[ET_NET 0]", isCrashing: false, registers: nil, frames: [
                frame(0, 0x55b3_4c18_e368, "NetHandler::waitForActivity(long)", 0xd8, server),
                frame(10, 0x7fbb_608a_71f5, "start_thread", 0x2f5, libc, file: "./nptl/pthread_create.c", line: 442),
            ]),
        ]
        report.processStatus = "Name:\t[TS_MAIN]\nState:\tS (sleeping)\n"
        report.memoryRegions = "55b34bc00000-55b34bc20000 r--p 00000000 fe:00 1 /usr/bin/traffic_server\n"
        report.configurationRecords = ["proxy.process.http.completed_requests 4", "proxy.config.socks.default_servers "]
        report.tracerRuns = [TracerRun(name: "unwind", seconds: 0.012, outcome: "completed")]
        report.notes = ["stopped 2 threads in 1 ms"]
        return report
    }

    static func render(_ layout: LogLayout?, _ report: CrashReport = report()) -> String {
        // The Date line is in local time, as traffic_crashlog writes it: pinned to UTC here.
        setenv("TZ", "UTC", 1)
        tzset()
        return CrashLogWriter(report: report, helperVersion: "0.2.0", layout: layout,
                              systemVersion: "Linux x86_64 #1 SMP PREEMPT_DYNAMIC 6.1.0-18-amd64").render()
    }

    @Test(arguments: [LogLayout.ats9, .ats10])
    func layoutMatchesItsGoldenFileByteForByte(layout: LogLayout) throws {
        let text = Self.render(layout)
        let path = Self.golden + "crash-\(layout.rawValue).log"
        if getenv("INVOKER_UPDATE_GOLDEN") != nil {
            let file = fopen(path, "w")
            fputs(text, file)
            fclose(file)
        }
        let expected = try #require(readFile(path), "no golden file \(path)")
        #expect(text == expected, "\(text)")
    }

    @Test func automaticLayoutFollowsTheServersVersion() {
        var report = Self.report()
        #expect(LogLayout.automatic(for: report) == .ats9)
        #expect(Self.render(nil, report) == Self.render(.ats9, report))
        report.serverVersion = "Traffic Server 10.1.0"
        #expect(LogLayout.automatic(for: report) == .ats10)
        // No version known: the payload's layout (an ATS 9 payload), else ATS 10's.
        report.serverVersion = nil
        #expect(LogLayout.automatic(for: report) == .ats9)
        report.fault?.payloadVersion = .atsMaster
        #expect(LogLayout.automatic(for: report) == .ats10)
        report.fault = nil
        #expect(LogLayout.automatic(for: report) == .ats10)
    }

    /// The 9.x layout has traffic_crashlog 9.2's labels, columns and line shapes.
    @Test func ats9LayoutHasTheShapesOfARealTrafficCrashlogLog() throws {
        let reference = try #require(readFile(Self.golden + "traffic_crashlog-9.2.5-excerpt.log")).split(separator: "\n", omittingEmptySubsequences: false)
        let ours = Self.render(.ats9).split(separator: "\n", omittingEmptySubsequences: false)
        // The header: the same labels, in the same order, in the same 20 columns.
        let labels = ["Process:", "File:", "Version:", "System Version:", "Date:"]
        #expect(reference.prefix(5).map { String($0.prefix(20)) } == labels.map { $0.padding(to: 20) })
        #expect(ours.prefix(5).map { String($0.prefix(20)) } == labels.map { $0.padding(to: 20) })
        #expect(ours[2] == reference[2], "Version: the server's version, as traffic_crashlog prints it")
        #expect(ours[5] == "Helper Version:     invoker 0.2.0 (x86_64-pc-linux-gnu)")
        // Thread headers and frames.
        let header = #/Thread [0-9]+, [^:]+:/#
        let frameLine = #/([0-9]+ +)0x[0-9a-f]{16} [^ ].* \+ 0x[0-9a-f]+( .*)?/#
        for lines in [reference, ours] {
            let headers = lines.filter { (try? header.wholeMatch(in: $0)) != nil }
            #expect(headers.count >= 2, "\(lines)")
            #expect(lines.contains("Traffic Server Configuration Records:"))
            let frames = lines.compactMap { try? frameLine.wholeMatch(in: $0) }
            #expect(frames.count >= 4)
            // "%-4u " then the address: 5 columns for the index, whatever its width.
            for frame in frames {
                let digits = frame.output.1.prefix { $0.isNumber }.count
                #expect(frame.output.1.count == max(5, digits + 1), "\(frame.output.0)")
            }
            #expect(frames.contains { $0.output.1 == "0    " })
        }
        #expect(ours.contains("10   0x00007fbb608a71f5 start_thread + 0x2f5 at ./nptl/pthread_create.c:442 in /usr/lib/x86_64-linux-gnu/libc.so.6"))
        // The crashing thread comes first; the records after Memory Regions, "name value" a line.
        #expect(ours.firstIndex(of: "Thread 6489, [TS_MAIN]:")! < ours.firstIndex(of: "Thread 6687, [ET_NET 0]:")!)
        let records = try #require(ours.firstIndex(of: "Traffic Server Configuration Records:"))
        #expect(ours.firstIndex(of: "Memory Regions:")! < records)
        #expect(Array(ours[(records + 1)...(records + 2)]) == ["proxy.process.http.completed_requests 4", "proxy.config.socks.default_servers "])
        let referenceRecords = try #require(reference.firstIndex(of: "Traffic Server Configuration Records:"))
        for line in reference[(referenceRecords + 1)...] where !line.isEmpty {
            #expect(line.hasPrefix("proxy.") && line.contains(" "), "\(line)")
        }
    }

    /// The ATS 10 layout has master's traffic_crashlog labels.
    @Test func ats10LayoutHasMastersThreadLabels() {
        let ours = Self.render(.ats10).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(ours.contains("Crashing Thread (TID 6489, [TS_MAIN]):"))
        #expect(ours.contains("Other Non-Crashing Threads:"))
        #expect(ours.contains("Thread (TID 6687, [ET_NET 0]):"))
        #expect(ours.contains("0   0x000055b34be1140a main + 0x155a in /usr/bin/traffic_server"))
    }
}
