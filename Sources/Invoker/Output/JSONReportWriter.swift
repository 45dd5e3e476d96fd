// JSONReportWriter: the crash report as one JSON document (schema "invoker-report/1", described
// in the README), encoded with Foundation's JSONEncoder from the report model. It is what other
// tools (a crash database, a forwarder) read; names are chosen for the long run: snake_case,
// addresses as "0x…" strings (64-bit values do not survive JSON numbers in every reader).

#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import TracerKit

struct JSONReportWriter {
    static let schema = "invoker-report/1"

    let report: CrashReport
    let kind: String
    let helperVersion: String

    func render() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(document()) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    func document() -> Document {
        let fault = report.fault
        let groups = ThreadGrouping.groups(of: report.threads)
        let groupIDs = ThreadGrouping.groupIDs(groups, threadCount: report.threads.count)
        return Document(
            schema: Self.schema,
            generator: Generator(name: "invoker", version: helperVersion),
            kind: kind,
            time: CrashLogWriter.formatUTC(time: report.time),
            timeUnix: report.time,
            host: Host(hostname: Self.hostname(), triplet: report.hostTriplet),
            process: Process(pid: report.pid, name: report.processName, executable: report.executable,
                             commandLine: report.commandLine, serverVersion: report.serverVersion),
            fault: fault.map { fault in
                Fault(signal: fault.signal.map { SignalDTO(number: $0.number, name: $0.name, description: $0.description) },
                      code: fault.signal.map { CodeDTO(value: $0.code, meaning: $0.codeDescription) },
                      address: fault.signal.flatMap { $0.hasFaultAddress ? $0.address.hex : nil },
                      sender: fault.signal.flatMap { $0.wasSentByProcess ? Sender(pid: $0.senderPID, uid: $0.senderUID) : nil },
                      payload: fault.payloadVersion?.rawValue, crashingThread: fault.crashingThread,
                      registers: fault.registers.map(registers), serverBacktrace: fault.serverBacktrace,
                      classification: fault.classification.map {
                          Classification(kind: $0.kind.rawValue, summary: $0.summary, evidence: $0.evidence)
                      },
                      fingerprint: report.fingerprint?.value, fingerprintBasis: report.fingerprint?.basis,
                      fingerprintNote: report.fingerprint?.note)
            },
            occurrence: report.occurrence.map {
                OccurrenceDTO(state: $0.state.rawValue, groupCount: $0.groupCount, compact: $0.compact, detail: $0.detail)
            },
            threads: report.threads.enumerated().map { threadIndex, thread in
                Thread(tid: thread.tid, name: thread.name, crashed: thread.isCrashing, group: groupIDs[threadIndex],
                       registers: thread.registers.map(registers),
                       frames: thread.flattenedFrames.map { frame in
                           FrameDTO(index: frame.index, pc: frame.pc.hex, sp: frame.stackPointer.hex,
                                    recovery: frame.recovery.rawValue, signalFrame: frame.isSignalFrame,
                                    inlined: frame.isInlined,
                                    module: frame.module, buildId: frame.buildID, moduleOffset: frame.moduleOffset?.hex,
                                    function: frame.function, functionOffset: frame.functionOffset?.hex,
                                    file: frame.file, line: frame.line, column: frame.column,
                                    variables: frame.variables.isEmpty ? nil : frame.variables.map(VariableDTO.init))
                       },
                       unwindStop: thread.unwindStop)
            },
            threadGroups: groups.map { ThreadGroupDTO($0, report.threads) },
            globals: report.globals.isEmpty ? nil : report.globals.map(VariableDTO.init),
            trafficServerRecords: report.configurationRecords.map { records in
                Dictionary(records.map { line -> (String, String) in
                    let name = line.prefix { $0 != " " }
                    return (String(name), String(line.dropFirst(name.count + 1)))
                }, uniquingKeysWith: { first, _ in first })
            },
            modules: report.modules.map { Module(path: $0.path, buildId: $0.buildID, start: $0.start.hex, end: $0.end.hex) },
            sections: Dictionary(report.sections.map { ($0.id, SectionDTO(title: $0.title, fields: $0.fields, problems: $0.problems)) },
                                 uniquingKeysWith: { first, _ in first }),
            tracers: report.tracerRuns.map {
                TracerDTO(name: $0.name, command: $0.command, seconds: $0.seconds, exitStatus: $0.exitStatus,
                          outcome: $0.outcome, output: $0.output)
            },
            problems: report.problems,
            timing: report.notes)
    }

    private func registers(_ registers: Registers) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in registers.named { result[name.lowercased()] = value.hex }
        return result
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: the document (field names become snake_case)

    struct Document: Encodable {
        var schema: String
        var generator: Generator
        var kind: String
        var time: String
        var timeUnix: Int
        var host: Host
        var process: Process
        var fault: Fault?
        var occurrence: OccurrenceDTO?
        var threads: [Thread]
        var threadGroups: [ThreadGroupDTO]
        var globals: [VariableDTO]?
        /// Traffic Server's records and metrics from traffic_manager, name → value.
        var trafficServerRecords: [String: String]? = nil
        var modules: [Module]
        var sections: [String: SectionDTO]
        var tracers: [TracerDTO]
        var problems: [String]
        var timing: [String]
    }
    struct Generator: Encodable { var name: String; var version: String }
    struct Host: Encodable { var hostname: String; var triplet: String? }
    struct Process: Encodable {
        var pid: Int32; var name: String?; var executable: String; var commandLine: [String]
        /// "Traffic Server 9.2.9", for a traffic_server.
        var serverVersion: String? = nil
    }
    struct SignalDTO: Encodable { var number: Int32; var name: String; var description: String }
    struct CodeDTO: Encodable { var value: Int32; var meaning: String }
    struct Sender: Encodable { var pid: Int32; var uid: UInt32 }
    struct Fault: Encodable {
        var signal: SignalDTO?
        var code: CodeDTO?
        var address: String?
        var sender: Sender?
        var payload: String?
        var crashingThread: Int32?
        var registers: [String: String]?
        var serverBacktrace: String?
        var classification: Classification?
        var fingerprint: String?
        var fingerprintBasis: [String]?
        var fingerprintNote: String?
    }
    struct OccurrenceDTO: Encodable { var state: String; var groupCount: Int; var compact: Bool; var detail: String? }
    struct Classification: Encodable { var kind: String; var summary: String; var evidence: [String] }
    struct FrameDTO: Encodable {
        var index: Int
        var pc: String
        var sp: String
        var recovery: String
        var signalFrame: Bool
        var inlined: Bool
        var module: String?
        var buildId: String?
        var moduleOffset: String?
        var function: String?
        var functionOffset: String?
        var file: String?
        var line: Int?
        var column: Int?
        var variables: [VariableDTO]?
    }
    struct VariableDTO: Encodable {
        var name: String
        var kind: String
        var type: String
        var value: String?
        var note: String?
        var pointee: String?
        /// The inlined function (frame variables) or the defining module (globals).
        var scope: String?

        init(_ variable: Variable) {
            name = variable.name; kind = variable.kind; type = variable.type; value = variable.value; note = variable.note
            pointee = variable.pointee; scope = variable.scope
        }
    }
    struct Thread: Encodable {
        var tid: Int32
        var name: String
        var crashed: Bool
        /// The id of its entry in `threadGroups`.
        var group: Int
        var registers: [String: String]?
        var frames: [FrameDTO]
        var unwindStop: String?
    }
    struct Module: Encodable { var path: String; var buildId: String?; var start: String; var end: String }
    struct TracerDTO: Encodable {
        var name: String
        var command: [String]?
        var seconds: Double
        var exitStatus: Int32?
        var outcome: String
        var output: String?
    }
    struct SectionDTO: Encodable {
        var title: String
        var fields: [Field]
        var problems: [String]

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: DynamicKey.self)
            try container.encode(title, forKey: DynamicKey("title"))
            try container.encode(FieldsDTO(fields: fields), forKey: DynamicKey("fields"))
            if !problems.isEmpty { try container.encode(problems, forKey: DynamicKey("problems")) }
        }
    }
    /// Fields as an object: each key maps to its value; a flagged value becomes {value, flag}.
    struct FieldsDTO: Encodable {
        var fields: [Field]

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: DynamicKey.self)
            for field in fields {
                let key = DynamicKey(field.key)
                if let flag = field.flag {
                    var nested = container.nestedContainer(keyedBy: DynamicKey.self, forKey: key)
                    try nested.encode(ValueDTO(value: field.value), forKey: DynamicKey("value"))
                    try nested.encode(flag, forKey: DynamicKey("flag"))
                } else {
                    try container.encode(ValueDTO(value: field.value), forKey: key)
                }
            }
        }
    }
    struct ValueDTO: Encodable {
        var value: FieldValue

        func encode(to encoder: Encoder) throws {
            switch value {
            case .group(let fields): try FieldsDTO(fields: fields).encode(to: encoder)
            case .list(let items): var c = encoder.singleValueContainer(); try c.encode(items)
            case .text(let text): var c = encoder.singleValueContainer(); try c.encode(text)
            case .integer(let number): var c = encoder.singleValueContainer(); try c.encode(number)
            case .number(let number): var c = encoder.singleValueContainer(); try c.encode(number)
            case .flag(let flag): var c = encoder.singleValueContainer(); try c.encode(flag)
            }
        }
    }
    struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}
