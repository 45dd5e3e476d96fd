// CrashLogWriter: renders a CrashReport in traffic_crashlog's layout (same labels, same order),
// then the sections traffic_crashlog does not have.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

struct CrashLogWriter {
    let report: CrashReport
    let helperVersion: String
    /// The thread layout; nil (invoker.conf's log_layout = "auto") takes the server's (LogLayout).
    var layout: LogLayout? = nil

    /// Print threads with identical stacks once, with a count (ThreadGrouping); false prints
    /// every thread in full.
    var groupThreads = true

    /// The System Version line's text (uname: sysname machine version release).
    var systemVersion = CrashLogWriter.currentSystemVersion()

    /// The layout this log is rendered in.
    var resolvedLayout: LogLayout { layout ?? LogLayout.automatic(for: report) }

    /// crash-%Y-%m-%d-%H%M%S.log in local time, as traffic_crashlog names it.
    static func fileName(time: Int) -> String {
        "crash-" + format(time: time, "%Y-%m-%d-%H%M%S") + ".log"
    }

    /// ISO 8601 in UTC ("2026-11-25T03:00:00Z"), for the JSON report.
    static func formatUTC(time: Int) -> String {
        var t = time_t(time)
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func format(time: Int, _ pattern: String) -> String {
        var t = time_t(time)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 128)
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What each line of an external tracer's output starts with.
    static let outputIndent = "  "

    /// "Linux x86_64 #1 SMP … 6.1.0-18-amd64", in traffic_crashlog's order.
    static func currentSystemVersion() -> String {
        var uts = utsname()
        uname(&uts)
        return [uts.sysname, uts.machine, uts.version, uts.release]
            .map { withUnsafeBytes(of: $0) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) } }
            .joined(separator: " ")
    }

    /// traffic_crashlog's LABELFMT: "%-20s".
    static func label(_ text: String) -> String { text.padding(to: 20) }

    func render() -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        func section(_ title: String, _ body: String?) {
            line("\(title):")
            // A crash loop's compact record leaves these out on purpose: say so, not "unavailable".
            out += body.map { $0.escapedLines() }
                ?? (report.occurrence?.compact == true ? "(omitted: a compact record of a crash in a loop)\n" : "(unavailable)\n")
            line()
        }

        let name = report.processName ?? report.executable.split(separator: "/").last.map(String.init) ?? "?"
        line(Self.label("Process:") + "\(name.escapedForLog) [\(report.pid)]")
        line(Self.label("File:") + report.executable.escapedForLog)
        let helper = "invoker \(helperVersion)" + (report.hostTriplet.map { " (\($0.escapedForLog))" } ?? "")
        // traffic_crashlog's Version line is the server's; ours gets a line of its own, after
        // traffic_crashlog's five, so the header's first lines stay as its readers know them.
        line(Self.label("Version:") + (report.serverVersion?.escapedForLog ?? helper))
        line(Self.label("System Version:") + systemVersion)
        line(Self.label("Date:") + Self.format(time: report.time, "%a, %d %b %Y %T %z"))
        if report.serverVersion != nil { line(Self.label("Helper Version:") + helper) }
        line()
        renderSignal(&out)
        line()
        renderRegisters(&out)
        line()
        renderThreads(&out)
        renderGlobals(&out)
        section("Process Status", report.processStatus)
        section("Process Limits", report.processLimits)
        section("Memory Regions", report.memoryRegions)
        if let records = report.configurationRecords {
            // traffic_crashlog's last section under traffic_manager.
            line("Traffic Server Configuration Records:")
            for record in records { line(record.escapedForLog) }
            line()
        }
        // External tracers, in traffic_crashlog's --exec layout (ATS 10), then how each ended.
        for run in report.tracerRuns where run.command != nil {
            // The program's output is indented: nothing it prints can start a line of ours.
            line("Executing Program `\(run.command!.joined(separator: " ").escapedForLog)`:")
            if let output = run.output, !output.isEmpty {
                out += output.escapedLines(indent: Self.outputIndent)
            }
            line("[\(run.name.escapedForLog): \(run.outcome.escapedForLog), after \(String(format: run.seconds)) s]")
            line()
        }
        for section in report.sections { renderSection(section, &out) }
        renderModules(&out)
        if !report.problems.isEmpty {
            line("Capture Problems:")
            for problem in report.problems { line("  - \(problem.escapedForLog)") }
            line()
        }
        line("Capture Timing:")
        for run in report.tracerRuns where run.command == nil {
            line("  \(run.name.escapedForLog): \(String(format: run.seconds)) s, \(run.outcome.escapedForLog)")
        }
        for note in report.notes { line("  \(note.escapedForLog)") }
        return out
    }

    /// traffic_crashlog's Signal Status lines, then the meaning of si_code for every signal.
    private func renderSignal(_ out: inout String) {
        if report.isSnapshot {
            out += "No target signal information: a snapshot of a running process (invoker snapshot), not a crash\n"
            return
        }
        guard let signal = report.fault?.signal else {
            out += "No target signal information\n"
            return
        }
        let label = Self.label
        out += "Signal Status:\n"
        out += label("siginfo.si_signo:") + "\(signal.number) (\(signal.description))\n"
        out += label("siginfo.si_pid:") + label(String(signal.senderPID)) + label("siginfo.si_uid:") + "\(signal.senderUID)\n"
        out += label("siginfo.si_code:") + label("0x\(String(UInt32(bitPattern: signal.code), radix: 16)) (\(signal.code))")
        out += label("siginfo.si_addr:") + "0x" + hex(signal.address, width: 16) + "\n"
        if signal.code == 0 {
            out += "Signal delivered by user \(signal.senderUID) from process \(signal.senderPID)\n"
        } else if signal.number == SIGSEGV || signal.number == SIGBUS {
            let meaning = switch (signal.number, signal.code) {
            case (SIGSEGV, 1): "No object mapped"
            case (SIGSEGV, 2): "Invalid permissions for mapped object"
            case (SIGBUS, 1): "Invalid address alignment"
            case (SIGBUS, 2): "Nonexistent physical address"
            case (SIGBUS, 3): "Object-specific hardware error"
            default: "Unknown error"
            }
            out += "\(meaning) at address 0x\(hex(signal.address, width: 16))\n"
        }
        out += label("Signal:") + "\(signal.name), \(signal.codeDescription)\n"
        if let classification = report.fault?.classification {
            out += label("Fault:") + classification.summary.escapedForLog + "\n"
            for evidence in classification.evidence { out += label("") + "- " + evidence.escapedForLog + "\n" }
        }
        if let version = report.fault?.payloadVersion { out += label("Payload:") + version.rawValue + "\n" }
        if let fingerprint = report.fingerprint {
            out += label("Fingerprint:") + fingerprint.value + "\n"
            if let note = fingerprint.note { out += label("") + "- " + note + "\n" }
        }
        if let occurrence = report.occurrence {
            out += label("Occurrence:") + occurrence.state.rawValue + ", crash \(occurrence.groupCount) of this fingerprint"
                + (occurrence.compact ? ", compact record" : "") + "\n"
            if let detail = occurrence.detail { out += label("") + "- " + detail + "\n" }
        }
    }

    /// The 23 gregs of the signal context, four to a line, as traffic_crashlog prints them; for
    /// registers from elsewhere (a core's NT_PRSTATUS), the first 18 of them (R8 … EFL), the ones
    /// such registers hold, in the same layout.
    private func renderRegisters(_ out: inout String) {
        guard let registers = report.fault?.registers else {
            out += "No target CPU registers\n"
            return
        }
        let values = registers.signalContextGregs ?? registers.generalRegistersInGregOrder
        out += "CPU Registers:\n"
        for (index, value) in values.enumerated() {
            let name = Registers.gregNames[index]
            out += (name.count < 3 ? name + String(repeating: " ", count: 3 - name.count) : name)
            out += ":0x" + hex(value, width: 16) + (index % 4 == 3 ? "\n" : " ")
        }
        out += "\n"
    }

    /// The thread listing alone, as `render()` has it (`invoker show --all-threads`).
    func renderThreadListing() -> String {
        var out = ""
        renderThreads(&out)
        return out
    }

    /// The threads in the chosen layout, those with identical stacks printed once
    /// (ThreadGrouping) unless `groupThreads` is off; the crashing thread always alone.
    private func renderThreads(_ out: inout String) {
        if report.threads.isEmpty {
            out += "Unable to retrieve backtrace: the target's threads could not be stopped (see Capture Problems).\n\n"
            return
        }
        switch resolvedLayout {
        case .ats9: renderThreadsAsATS9(&out)
        case .ats10: renderThreadsAsATS10(&out)
        }
    }

    /// traffic_crashlog 9.x's thread layout: "Thread <tid>, <name>:" for every thread, the
    /// crashing one first (9.x names none), frames numbered "%-4u " (then "0x…").
    private func renderThreadsAsATS9(_ out: inout String) {
        let groups = ThreadGrouping.printOrder(report.threads, grouped: groupThreads)
        for group in groups.filter(\.isCrashing) + groups.filter({ !$0.isCrashing }) {
            let thread = report.threads[group.members[0]]
            out += group.count > 1 ? ThreadGrouping.header(group, report.threads).escapedForLog + "\n"
                : "Thread \(thread.tid), \(thread.name.escapedForLog):\n"
            renderFrames(thread, indexWidth: 5, &out)
            out += "\n"
        }
    }

    /// traffic_crashlog's (ATS 10.2+) thread layout: the crashing thread, then the others.
    private func renderThreadsAsATS10(_ out: inout String) {
        var printedHeader = false
        for group in ThreadGrouping.printOrder(report.threads, grouped: groupThreads) {
            let thread = report.threads[group.members[0]]
            if thread.isCrashing {
                out += "Crashing Thread (TID \(thread.tid), \(thread.name.escapedForLog)):\n"
            } else {
                if !printedHeader {
                    out += "Other Non-Crashing Threads:\n\n"
                    printedHeader = true
                }
                out += group.count > 1 ? ThreadGrouping.header(group, report.threads).escapedForLog + "\n"
                    : "Thread (TID \(thread.tid), \(thread.name.escapedForLog)):\n"
            }
            renderFrames(thread, indexWidth: 4, &out)
            out += "\n"
        }
    }

    /// "<index> 0x%016llx function + 0xoffset" as traffic_crashlog prints a frame (the index in
    /// `indexWidth` columns: 4 in ATS 10, 5 in 9.x), then what it does not print: the source
    /// location and the module.
    private func renderFrames(_ thread: ThreadReport, indexWidth: Int, _ out: inout String) {
        for frame in thread.flattenedFrames {
            var text = String(frame.index).padding(to: indexWidth) + "0x" + hex(frame.pc, width: 16) + " "
            if let function = frame.function {
                text += function + (frame.isInlined ? "" : " + 0x" + hex(frame.functionOffset ?? 0))
            } else {
                text += "<unknown>"
            }
            if frame.isInlined { text += " [inlined]" }
            if frame.isSignalFrame { text += " [signal frame]" }
            if let file = frame.file { text += " at \(file)" + (frame.line.map { ":\($0)" } ?? "") }
            if let module = frame.module {
                text += " in \(module)" + (frame.function == nil ? "+0x" + hex(frame.moduleOffset ?? 0) : "")
            }
            out += text.escapedForLog + "\n"
            for variable in frame.variables { renderVariable(variable, &out) }
        }
        if let stop = thread.unwindStop { out += "  [stack ends: \(stop.escapedForLog)]\n" }
    }

    /// "      name = value -> pointee  [note]  (parameter, type)", as under a frame.
    private func renderVariable(_ variable: Variable, indent: String = "      ", _ out: inout String) {
        var text = variable.name + " = " + (variable.value ?? "<\(variable.note ?? "unavailable")>")
        if let pointee = variable.pointee { text += " -> " + pointee }
        if variable.value != nil, let note = variable.note { text += "  [\(note)]" }
        let kind = variable.kind == "parameter" ? "parameter, " : ""
        let module = variable.kind == "global" ? variable.scope.map { ", in \($0)" } ?? "" : ""
        text += "  (\(kind)\(variable.type)\(module))"
        out += indent + text.escapedForLog + "\n"
    }

    /// The globals the variables tracer was asked for.
    private func renderGlobals(_ out: inout String) {
        guard !report.globals.isEmpty else { return }
        out += "Global Variables:\n"
        for variable in report.globals { renderVariable(variable, indent: "  ", &out) }
        out += "\n"
    }

    /// A section's fields as aligned "key: value" lines, groups indented, lists one item a line.
    private func renderSection(_ section: ReportSection, _ out: inout String) {
        out += section.title.escapedForLog + ":\n"
        renderFields(section.fields, indent: 2, &out)
        for problem in section.problems { out += "  (\(problem.escapedForLog))\n" }
        out += "\n"
    }

    private func renderFields(_ fields: [Field], indent: Int, _ out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for field in fields {
            let label = (pad + field.key + ":").padding(to: 30)
            let flag = field.flag.map { "  [\($0.escapedForLog)]" } ?? ""
            switch field.value {
            case .text(let text): out += label + text.escapedForLog + flag + "\n"
            case .integer(let number): out += label + String(number) + flag + "\n"
            case .number(let number): out += label + String(number) + flag + "\n"
            case .flag(let value): out += label + (value ? "yes" : "no") + flag + "\n"
            case .list(let items):
                out += pad + field.key + ":" + flag + (items.isEmpty ? " (none)" : "") + "\n"
                for item in items { out += pad + "  " + item.escapedForLog + "\n" }
            case .group(let inner):
                out += pad + field.key + ":" + flag + "\n"
                renderFields(inner, indent: indent + 2, &out)
            }
        }
    }

    private func renderModules(_ out: inout String) {
        guard !report.modules.isEmpty else { return }
        out += "Loaded Modules:\n"
        for module in report.modules {
            out += "  \(hex(module.start, width: 16))-\(hex(module.end, width: 16)) \(module.buildID ?? "-".padding(to: 40)) \(module.path.escapedForLog)\n"
        }
        out += "\n"
    }

    private func hex(_ value: UInt64, width: Int = 0) -> String {
        let digits = String(value, radix: 16)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension String {
    /// Left-justified in `width` columns, like printf's "%-Ns" (never truncated).
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    init(format seconds: Double) {
        let millis = Int((seconds * 1000).rounded())
        let fraction = String(millis % 1000)
        self = "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
