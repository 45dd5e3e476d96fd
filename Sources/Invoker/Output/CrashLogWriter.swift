// CrashLogWriter: renders a CrashReport in traffic_crashlog's layout (same labels, same order),
// then the sections traffic_crashlog does not have.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

struct CrashLogWriter {
    let report: CrashReport
    let helperVersion: String

    /// crash-%Y-%m-%d-%H%M%S.log in local time, as traffic_crashlog names it.
    static func fileName(time: Int) -> String {
        "crash-" + format(time: time, "%Y-%m-%d-%H%M%S") + ".log"
    }

    static func format(time: Int, _ pattern: String) -> String {
        var t = time_t(time)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 128)
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func render() -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        func field(_ label: String, _ value: String) { line((label + ":").padding(to: 19) + value) }

        let processName = report.commandLine.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
            ?? report.executable.split(separator: "/").last.map(String.init) ?? "?"
        field("Process", processName)
        field("File", report.executable)
        field("Version", "invoker \(helperVersion)" + (report.hostTriplet.map { " (\($0))" } ?? ""))
        var uts = utsname()
        uname(&uts)
        field("System Version", [uts.sysname, uts.nodename, uts.release, uts.version, uts.machine]
            .map { withUnsafeBytes(of: $0) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) } }
            .joined(separator: " "))
        field("Date", Self.format(time: report.time, "%a, %d %b %Y %T %z"))
        line()
        renderSignal(&out)
        line()
        renderRegisters(&out)
        line()
        renderThreads(&out)
        line("Process Status:")
        out += report.processStatus ?? "(unavailable)\n"
        line()
        line("Process Limits:")
        out += report.processLimits ?? "(unavailable)\n"
        line()
        for run in report.tracerRuns where run.command != nil {
            line("Tracer \(run.name): \(run.command!.joined(separator: " "))")
            line("  \(run.outcome), \(String(format: run.seconds)) s")
            if let output = run.output, !output.isEmpty {
                out += output.hasSuffix("\n") ? output : output + "\n"
            }
            line()
        }
        renderModules(&out)
        if !report.problems.isEmpty {
            line("Capture Problems:")
            for problem in report.problems { line("  - \(problem)") }
            line()
        }
        line("Capture Timing:")
        for run in report.tracerRuns where run.command == nil {
            line("  \(run.name): \(String(format: run.seconds)) s, \(run.outcome)")
        }
        return out
    }

    private func renderSignal(_ out: inout String) {
        out += "Signal Status:\n"
        guard let signal = report.fault?.signal else {
            out += "  No target signal information\n"
            return
        }
        out += "  \(signal.description) (\(signal.name), signal \(signal.number)), si_code \(signal.code): \(signal.codeDescription)\n"
        if signal.hasFaultAddress {
            out += "  Fault address: 0x\(hex(signal.address))\n"
        } else if signal.wasSentByProcess {
            out += "  Sent by pid \(signal.senderPID), uid \(signal.senderUID)\n"
        }
        if let version = report.fault?.payloadVersion { out += "  Payload: \(version.rawValue)\n" }
    }

    private func renderRegisters(_ out: inout String) {
        out += "CPU Registers:\n"
        let crashing = report.threads.first { $0.isCrashing }
        guard let registers = report.fault?.registers ?? crashing?.registers else {
            out += "  No target CPU registers\n"
            return
        }
        let named = registers.named
        for row in stride(from: 0, to: named.count, by: 4) {
            out += "  " + named[row..<min(row + 4, named.count)]
                .map { ($0.name + ":").padding(to: 8) + hex($0.value, width: 16) }
                .joined(separator: " ") + "\n"
        }
    }

    private func renderThreads(_ out: inout String) {
        let crashing = report.threads.filter(\.isCrashing)
        let others = report.threads.filter { !$0.isCrashing }
        for thread in crashing {
            out += "Crashing Thread (TID \(thread.tid), \(thread.name)):\n"
            renderFrames(thread, &out)
            out += "\n"
        }
        if report.threads.isEmpty {
            out += "No thread stacks: the target could not be stopped.\n\n"
        }
        if !others.isEmpty {
            out += crashing.isEmpty ? "Threads:\n" : "Other Non-Crashing Threads:\n"
            out += "\n"
            for thread in others {
                out += "Thread \(thread.tid), \(thread.name):\n"
                renderFrames(thread, &out)
                out += "\n"
            }
        }
    }

    private func renderFrames(_ thread: ThreadReport, _ out: inout String) {
        for frame in thread.frames {
            var text = "\(frame.index)".padding(to: 4) + hex(frame.pc, width: 16) + " "
            text += frame.function.map { name in "\(name)" + (frame.functionOffset.map { " + \($0)" } ?? "") } ?? "??"
            if frame.isSignalFrame { text += " [signal frame]" }
            if let file = frame.file {
                text += " at \(file)" + (frame.line.map { ":\($0)" } ?? "")
            }
            text += " in " + (frame.module ?? "??")
            out += "  " + text + "\n"
        }
        if let stop = thread.unwindStop { out += "  (stack ends: \(stop))\n" }
    }

    private func renderModules(_ out: inout String) {
        guard !report.modules.isEmpty else { return }
        out += "Loaded Modules:\n"
        for module in report.modules {
            out += "  \(hex(module.start, width: 16))-\(hex(module.end, width: 16)) \(module.buildID ?? "-".padding(to: 40)) \(module.path)\n"
        }
        out += "\n"
    }

    private func hex(_ value: UInt64, width: Int = 0) -> String {
        let digits = String(value, radix: 16)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }

    init(format seconds: Double) {
        let millis = Int((seconds * 1000).rounded())
        let fraction = String(millis % 1000)
        self = "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
