// ReportDocument: a JSON report (schema invoker-report/1) read back with Foundation's JSONDecoder,
// for the views rendered from it (`invoker show --html`, `--all-threads`). Only `schema`,
// `process` and `threads` are required; anything else a report lacks (an older writer) or adds
// (a newer one) is tolerated, as the schema asks of a reader.

import FoundationEssentials
import TracerKit

/// A decoded JSON report.
struct ReportDocument: Decodable {
    struct Generator: Decodable { var name: String?; var version: String? }
    struct Host: Decodable { var hostname: String?; var triplet: String? }
    struct Process: Decodable { var pid: Int32; var name: String?; var executable: String?; var commandLine: [String]? }
    struct Signal: Decodable { var number: Int32; var name: String; var description: String? }
    struct Code: Decodable { var value: Int32; var meaning: String? }
    struct Sender: Decodable { var pid: Int32?; var uid: UInt32? }
    struct Classification: Decodable { var kind: String; var summary: String; var evidence: [String]? }
    struct Fault: Decodable {
        var signal: Signal?
        var code: Code?
        var address: String?
        var sender: Sender?
        var payload: String?
        var crashingThread: Int32?
        var registers: [String: String]?
        var serverBacktrace: String?
        var classification: Classification?
    }
    struct Variable: Decodable {
        var name: String
        var kind: String?
        var type: String?
        var value: String?
        var note: String?
        var pointee: String?
        var scope: String?
    }
    struct Frame: Decodable {
        var index: Int
        var pc: String
        var sp: String?
        var recovery: String?
        var signalFrame: Bool?
        var inlined: Bool?
        var module: String?
        var buildId: String?
        var moduleOffset: String?
        var function: String?
        var functionOffset: String?
        var file: String?
        var line: Int?
        var column: Int?
        var variables: [Variable]?
    }
    struct Thread: Decodable {
        var tid: Int32
        var name: String
        var crashed: Bool
        var registers: [String: String]?
        var frames: [Frame]
        var unwindStop: String?
    }
    struct Module: Decodable { var path: String; var buildId: String?; var start: String?; var end: String? }
    struct Section: Decodable { var title: String?; var fields: JSONValue?; var problems: [String]? }
    struct Tracer: Decodable {
        var name: String
        var command: [String]?
        var seconds: Double?
        var exitStatus: Int32?
        var outcome: String?
        var output: String?
    }

    var schema: String
    var generator: Generator?
    var kind: String?
    var time: String?
    var host: Host?
    var process: Process
    var fault: Fault?
    var threads: [Thread]
    var globals: [Variable]?
    var modules: [Module]?
    var sections: [String: Section]?
    var tracers: [Tracer]?
    var problems: [String]?
    var timing: [String]?

    /// Decodes a report; the error says what is wrong with it.
    static func decode(_ bytes: [UInt8]) throws -> ReportDocument {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ReportDocument.self, from: Data(bytes))
    }
}

/// Any JSON value (a section's fields, whose keys each collector chooses).
indirect enum JSONValue: Decodable, Equatable {
    case string(String)
    case integer(Int64)
    case number(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }
}

extension ReportDocument.Thread {
    /// The thread as the report model has it, for the writers and ThreadGrouping (the report's
    /// inlined rows become levels of their physical frames again).
    var threadReport: ThreadReport {
        ThreadReport(tid: tid, name: name, isCrashing: crashed, registers: nil, frames: frames.map(\.frame).nestingInlined(),
                     unwindStop: unwindStop)
    }
}

extension ReportDocument.Frame {
    var frame: TracerKit.Frame {
        var frame = TracerKit.Frame(index: index, pc: Self.address(pc) ?? 0, stackPointer: sp.flatMap(Self.address) ?? 0,
                                    recovery: recovery.flatMap(FrameRecovery.init(rawValue:)) ?? .callFrameInfo,
                                    isSignalFrame: signalFrame ?? false)
        frame.isInlined = inlined ?? false
        frame.symbol.module = module
        frame.symbol.buildID = buildId
        frame.symbol.moduleOffset = moduleOffset.flatMap(Self.address)
        frame.symbol.function = function
        frame.symbol.functionOffset = functionOffset.flatMap(Self.address)
        frame.symbol.file = file
        frame.symbol.line = line
        frame.symbol.column = column
        frame.variables = (variables ?? []).map {
            TracerKit.Variable(name: $0.name, kind: $0.kind ?? "local", type: $0.type ?? "?", value: $0.value, note: $0.note,
                               pointee: $0.pointee, scope: $0.scope)
        }
        return frame
    }

    /// "0x7f…" as a number.
    static func address(_ text: String) -> UInt64? {
        text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : nil
    }
}
