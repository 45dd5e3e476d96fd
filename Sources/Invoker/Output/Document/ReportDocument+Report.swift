// ReportDocument+Report: the JSON document of a finished CrashReport, as the JSON formatter writes
// it. Each part of the report model becomes its document part here and nowhere else; frames go
// through `frames(of:)`, the one place a thread's stack becomes the document's frame list.

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

extension ReportDocument {
    /// The document of `report`, a capture of `kind` ("crash" or "snapshot") by invoker `helperVersion`
    /// on `hostname`.
    init(report: CrashReport, kind: String, helperVersion: String, hostname: String = ReportDocument.hostname()) {
        let groups = ThreadGrouping.groups(of: report.threads)
        let groupIDs = ThreadGrouping.groupIDs(groups, threadCount: report.threads.count)
        self.init(
            schema: Self.currentSchema,
            generator: Generator(name: "invoker", version: helperVersion),
            kind: kind,
            time: CrashLogWriter.formatUTC(time: report.time),
            timeUnix: report.time,
            host: Host(hostname: hostname, triplet: report.hostTriplet),
            process: Process(pid: report.pid, name: report.processName, executable: report.executable,
                             commandLine: report.commandLine, serverVersion: report.serverVersion),
            fault: report.fault.map { Fault($0, fingerprint: report.fingerprint) },
            occurrence: report.occurrence.map {
                Occurrence(state: $0.state.rawValue, groupCount: $0.groupCount, compact: $0.compact, detail: $0.detail)
            },
            threads: report.threads.enumerated().map { index, thread in
                Thread(tid: thread.tid, name: thread.name, crashed: thread.isCrashing, group: groupIDs[index],
                       registers: thread.registers.map(Self.registers), frames: Self.frames(of: thread),
                       unwindStop: thread.unwindStop)
            },
            threadGroups: groups.map { group in
                let members = group.members.map { report.threads[$0] }
                return ThreadGroup(id: group.id, count: group.count, crashed: group.isCrashing, tids: members.map(\.tid),
                                   names: ThreadGrouping.compressedNames(members.map(\.name)))
            },
            globals: report.globals.isEmpty ? nil : report.globals.map(Variable.init),
            trafficServerRecords: report.configurationRecords.map(Self.records),
            modules: report.modules.map { Module(path: $0.path, buildId: $0.buildID, start: $0.start.hex, end: $0.end.hex) },
            sections: Dictionary(report.sections.map { ($0.id, Section($0)) }, uniquingKeysWith: { first, _ in first }),
            tracers: report.tracerRuns.map {
                Tracer(name: $0.name, command: $0.command, seconds: $0.seconds, exitStatus: $0.exitStatus,
                       outcome: $0.outcome, output: $0.output)
            },
            problems: report.problems,
            timing: report.notes)
    }

    /// A thread's stack as the document lists it, innermost first: each physical frame's inlined
    /// levels as rows of their own (marked `inlined`) before it (ThreadReport.flattenedFrames).
    static func frames(of thread: ThreadReport) -> [Frame] {
        thread.flattenedFrames.map(Frame.init)
    }

    /// Registers by lowercase name.
    static func registers(_ registers: Registers) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in registers.named { result[name.lowercased()] = value.hex }
        return result
    }

    /// traffic_manager's "name value" lines as name → value (the first of a repeated name wins).
    static func records(_ lines: [String]) -> [String: String] {
        Dictionary(lines.map { line -> (String, String) in
            let name = line.prefix { $0 != " " }
            return (String(name), String(line.dropFirst(name.count + 1)))
        }, uniquingKeysWith: { first, _ in first })
    }

    /// This host's name (gethostname).
    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ReportDocument.Fault {
    init(_ fault: FaultContext, fingerprint: Fingerprint?) {
        let signal = fault.signal
        self.init(signal: signal.map { ReportDocument.Signal(number: $0.number, name: $0.name, description: $0.description) },
                  code: signal.map { ReportDocument.Code(value: $0.code, meaning: $0.codeDescription) },
                  address: signal.flatMap { $0.hasFaultAddress ? $0.address.hex : nil },
                  sender: signal.flatMap { $0.wasSentByProcess ? ReportDocument.Sender(pid: $0.senderPID, uid: $0.senderUID) : nil },
                  payload: fault.payloadVersion?.rawValue, crashingThread: fault.crashingThread,
                  registers: fault.registers.map(ReportDocument.registers), serverBacktrace: fault.serverBacktrace,
                  classification: fault.classification.map {
                      ReportDocument.Classification(kind: $0.kind.rawValue, summary: $0.summary, evidence: $0.evidence)
                  },
                  fingerprint: fingerprint?.value, fingerprintBasis: fingerprint?.basis, fingerprintNote: fingerprint?.note)
    }
}

extension ReportDocument.Frame {
    init(_ frame: TracerKit.Frame) {
        self.init(index: frame.index, pc: frame.pc.hex, sp: frame.stackPointer.hex, recovery: frame.recovery.rawValue,
                  signalFrame: frame.isSignalFrame, inlined: frame.isInlined,
                  module: frame.module, buildId: frame.buildID, moduleOffset: frame.moduleOffset?.hex,
                  function: frame.function, functionOffset: frame.functionOffset?.hex,
                  file: frame.file, line: frame.line, column: frame.column,
                  variables: frame.variables.isEmpty ? nil : frame.variables.map(ReportDocument.Variable.init))
    }
}

extension ReportDocument.Variable {
    init(_ variable: TracerKit.Variable) {
        self.init(name: variable.name, kind: variable.kind, type: variable.type, value: variable.value, note: variable.note,
                  pointee: variable.pointee, scope: variable.scope)
    }
}

extension ReportDocument.Section {
    /// The section with its field keys in snake case ("MemTotal" → "mem_total"), as JSON keys are.
    init(_ section: ReportSection) {
        self.init(title: section.title, fields: Self.object(section.fields),
                  problems: section.problems.isEmpty ? nil : section.problems)
    }

    private static func object(_ fields: [Field]) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        for field in fields {  // a repeated key: the last wins, as in a keyed encoding container
            let value = Self.value(field.value)
            object[field.key.snakeCased] = field.flag.map { .object(["value": value, "flag": .string($0)]) } ?? value
        }
        return object
    }

    private static func value(_ value: FieldValue) -> JSONValue {
        switch value {
        case .text(let text): .string(text)
        case .integer(let number): .integer(number)
        case .number(let number): .number(number)
        case .flag(let flag): .bool(flag)
        case .list(let items): .array(items.map(JSONValue.string))
        case .group(let fields): .object(object(fields))
        }
    }
}
