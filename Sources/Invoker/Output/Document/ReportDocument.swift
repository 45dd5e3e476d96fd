// ReportDocument: the JSON report (schema invoker-report/1, schema/invoker-report-1.schema.json) as
// one Codable type. The JSON formatter encodes it (ReportDocument+Report builds it from the
// report model); `invoker show`, the HTML page, the crash store and the Sentry forwarder decode it.
// One type for both directions, so what is written is what is read: a written report decodes and
// encodes back to the same bytes (ReportDocumentTests).
//
// Names are chosen for the long run: snake_case keys (each type's CodingKeys spell the
// schema's names for the properties' camelCase), addresses as "0x…" strings (64-bit values do not
// survive JSON numbers in every reader). What the schema requires of the parts is non-optional
// here; at the top, a reader needs only `schema`, `process.pid` and `threads` (`invoker show`
// renders such a minimal document): the rest is optional, or empty when absent (EmptyWhenAbsent),
// though the writer always writes it. Fields this type does not know are ignored, as the schema
// asks of a reader.

import FoundationEssentials

/// A crash report or live capture as its JSON document.
struct ReportDocument: Codable, Equatable, Sendable {
    /// The schema this type reads and writes.
    static let currentSchema = "invoker-report/1"

    struct Generator: Codable, Equatable, Sendable {
        var name: String
        var version: String
    }

    struct Host: Codable, Equatable, Sendable {
        var hostname: String
        /// The build triplet the server passed with --host.
        var triplet: String?
    }

    struct Process: Codable, Equatable, Sendable {
        var pid: Int32
        /// /proc/PID/comm.
        var name: String?
        var executable: String?
        @EmptyWhenAbsent var commandLine: [String]
        /// "Traffic Server 9.2.9", for a traffic_server.
        var serverVersion: String?

        enum CodingKeys: String, CodingKey {
            case pid
            case name
            case executable
            case commandLine = "command_line"
            case serverVersion = "server_version"
        }
    }

    struct Signal: Codable, Equatable, Sendable {
        var number: Int32
        var name: String
        var description: String
    }

    struct Code: Codable, Equatable, Sendable {
        var value: Int32
        var meaning: String
    }

    /// Who sent the signal, when a process did (kill, tgkill).
    struct Sender: Codable, Equatable, Sendable {
        var pid: Int32
        var uid: UInt32
    }

    struct Classification: Codable, Equatable, Sendable {
        var kind: String
        var summary: String
        var evidence: [String]
    }

    struct Fault: Codable, Equatable, Sendable {
        var signal: Signal?
        var code: Code?
        /// The faulting address, for the signals that have one.
        var address: String?
        var sender: Sender?
        /// Which payload layout the server sent ("ats-10.2").
        var payload: String?
        var crashingThread: Int32?
        /// Registers at the fault, lowercase name → "0x…".
        var registers: [String: String]?
        /// The backtrace the server printed itself (ATS 10.2+).
        var serverBacktrace: String?
        var classification: Classification?
        /// `fp1:…`, which crash this is (the local grouping key).
        var fingerprint: String?
        var fingerprintBasis: [String]?
        var fingerprintNote: String?

        enum CodingKeys: String, CodingKey {
            case signal
            case code
            case address
            case sender
            case payload
            case crashingThread = "crashing_thread"
            case registers
            case serverBacktrace = "server_backtrace"
            case classification
            case fingerprint
            case fingerprintBasis = "fingerprint_basis"
            case fingerprintNote = "fingerprint_note"
        }
    }

    /// How this crash relates to the ones before it (the crash store).
    struct Occurrence: Codable, Equatable, Sendable {
        /// new, repeat, regression or loop.
        var state: String
        var groupCount: Int
        /// A compact record: the expensive tracers were skipped.
        var compact: Bool
        var detail: String?

        enum CodingKeys: String, CodingKey {
            case state
            case groupCount = "group_count"
            case compact
            case detail
        }
    }

    struct Variable: Codable, Equatable, Sendable {
        var name: String
        /// "parameter", "local" or "global".
        var kind: String
        var type: String
        var value: String?
        var note: String?
        var pointee: String?
        /// The inlined function (frame variables) or the defining module (globals).
        var scope: String?
    }

    /// One frame, innermost first; an inlined function is a frame of its own (`inlined`) before
    /// the one it was inlined into, at the same pc.
    struct Frame: Codable, Equatable, Sendable {
        var index: Int
        var pc: String
        var sp: String
        /// How its registers were recovered: context, registers, cfi, frame-pointer, signal-context.
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
        var variables: [Variable]?

        enum CodingKeys: String, CodingKey {
            case index
            case pc
            case sp
            case recovery
            case signalFrame = "signal_frame"
            case inlined
            case module
            case buildId = "build_id"
            case moduleOffset = "module_offset"
            case function
            case functionOffset = "function_offset"
            case file
            case line
            case column
            case variables
        }
    }

    struct Thread: Codable, Equatable, Sendable {
        var tid: Int32
        var name: String
        var crashed: Bool
        /// The id of its entry in `threadGroups`.
        var group: Int?
        var registers: [String: String]?
        var frames: [Frame]
        /// Why the stack ends where it does, when it did not reach its natural end.
        var unwindStop: String?

        enum CodingKeys: String, CodingKey {
            case tid
            case name
            case crashed
            case group
            case registers
            case frames
            case unwindStop = "unwind_stop"
        }
    }

    /// Threads with identical stacks (ThreadGrouping), in the text log's print order.
    struct ThreadGroup: Codable, Equatable, Sendable {
        var id: Int
        /// How many threads share the stack.
        var count: Int
        /// Whether this is the crashing thread's group (always of one).
        var crashed: Bool
        /// The members' tids, in the order `names` expands to.
        var tids: [Int32]
        /// The members' names, compressed ("[ET_NET 0..83]").
        var names: String
    }

    struct Module: Codable, Equatable, Sendable {
        var path: String
        var buildId: String?
        var start: String
        var end: String

        enum CodingKeys: String, CodingKey {
            case path
            case buildId = "build_id"
            case start
            case end
        }
    }

    /// A collector's section ("process", "system").
    struct Section: Codable, Equatable, Sendable {
        var title: String
        /// The fields by key; a flagged value is {"value": …, "flag": "…"}, a group an object.
        var fields: [String: JSONValue]
        /// What could not be read, as sentences; absent when nothing.
        var problems: [String]?
    }

    /// One tracer's run: built-in or external.
    struct Tracer: Codable, Equatable, Sendable {
        var name: String
        var command: [String]?
        var seconds: Double
        var exitStatus: Int32?
        var outcome: String
        var output: String?

        enum CodingKeys: String, CodingKey {
            case name
            case command
            case seconds
            case exitStatus = "exit_status"
            case outcome
            case output
        }
    }

    var schema: String
    var generator: Generator?
    /// "crash" or "snapshot".
    var kind: String?
    /// When the capture started, ISO 8601 UTC.
    var time: String?
    var timeUnix: Int?
    var host: Host?
    var process: Process
    var fault: Fault?
    var occurrence: Occurrence?
    var threads: [Thread]
    var threadGroups: [ThreadGroup]?
    var globals: [Variable]?
    /// Traffic Server's records and metrics from traffic_manager, name → value.
    var trafficServerRecords: [String: String]?
    @EmptyWhenAbsent var modules: [Module]
    /// The collectors' sections by id.
    @EmptyWhenAbsent var sections: [String: Section]
    @EmptyWhenAbsent var tracers: [Tracer]
    /// Sentences about whatever degraded the report.
    @EmptyWhenAbsent var problems: [String]
    /// Facts about the capture itself (what took how long).
    @EmptyWhenAbsent var timing: [String]

    // The schema's names, spelled out (each nested type that has a two-word field does the
    // same): a key strategy converting camelCase at every key was a sixth of a large report's
    // encoding time.
    enum CodingKeys: String, CodingKey {
        case schema
        case generator
        case kind
        case time
        case timeUnix = "time_unix"
        case host
        case process
        case fault
        case occurrence
        case threads
        case threadGroups = "thread_groups"
        case globals
        case trafficServerRecords = "traffic_server_records"
        case modules
        case sections
        case tracers
        case problems
        case timing
    }
}

extension ReportDocument {
    /// The top-level fields the schema requires that a reader here may do without, as the schema
    /// names them, when the document lacks them (a writer's document has them all).
    var missingTopLevelFields: [String] {
        [("generator", generator == nil), ("kind", kind == nil), ("time", time == nil), ("time_unix", timeUnix == nil),
         ("host", host == nil), ("process.executable", process.executable == nil)].filter(\.1).map(\.0)
    }

    /// The document as the report file has it: pretty-printed (two-space indents), keys sorted, a
    /// final newline. YAJL writes it (JSONTree); a tree it refuses, Foundation's JSONEncoder.
    func encoded() -> [UInt8] {
        if let tree = try? JSONTreeEncoder.tree(of: self), let bytes = tree.prettyPrinted() { return bytes }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return Array("{}\n".utf8) }
        return Array(data) + [UInt8(ascii: "\n")]
    }

    /// Decodes a report file; the error says which field is missing or of the wrong type.
    static func decode(_ bytes: [UInt8]) throws -> ReportDocument {
        let decoder = JSONDecoder()
        return try decoder.decode(ReportDocument.self, from: Data(bytes))
    }
}

extension String {
    /// The value of a "0x…" address string.
    var hexAddress: UInt64? { hasPrefix("0x") ? UInt64(dropFirst(2), radix: 16) : nil }
}
