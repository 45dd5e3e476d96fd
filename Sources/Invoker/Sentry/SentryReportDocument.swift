// SentryReportDocument: the part of a JSON report (schema invoker-report/1) that the Sentry event is
// built from, decoded with Foundation's JSONDecoder. It reads the document other tools read, not
// invoker's in-process types, so a report written by any version (or re-sent from disk) maps the
// same way; fields it does not know are ignored, as the schema asks of readers.

import FoundationEssentials

/// A decoded JSON report (only what the Sentry mapping uses).
struct SentryReportDocument: Decodable, Sendable {
    struct Generator: Decodable, Sendable { var name: String; var version: String }
    struct Host: Decodable, Sendable { var hostname: String; var triplet: String? }
    struct Process: Decodable, Sendable {
        var pid: Int
        var name: String?
        var executable: String
        var commandLine: [String]
        /// The server's version as traffic_crashlog prints it ("Traffic Server 9.2.9"), for a traffic_server.
        var serverVersion: String?
    }
    struct Signal: Decodable, Sendable { var number: Int; var name: String; var description: String }
    struct Code: Decodable, Sendable { var value: Int; var meaning: String }
    struct Classification: Decodable, Sendable { var kind: String; var summary: String; var evidence: [String] }
    struct Fault: Decodable, Sendable {
        var signal: Signal?
        var code: Code?
        var address: String?
        var payload: String?
        var crashingThread: Int?
        var registers: [String: String]?
        var classification: Classification?
        /// `fp1:…`, the local grouping key (when the report has one).
        var fingerprint: String?
    }
    struct Variable: Decodable, Sendable {
        var name: String
        var kind: String
        var type: String
        var value: String?
        var note: String?
        var pointee: String?
    }
    struct Frame: Decodable, Sendable {
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
        var variables: [Variable]?
    }
    struct Thread: Decodable, Sendable {
        var tid: Int
        var name: String
        var crashed: Bool
        var registers: [String: String]?
        /// Innermost first, as the report lists them.
        var frames: [Frame]
        var unwindStop: String?
    }
    struct Module: Decodable, Sendable {
        var path: String
        var buildId: String?
        var start: String
        var end: String
    }
    struct Tracer: Decodable, Sendable { var name: String; var seconds: Double; var outcome: String }

    var schema: String
    var generator: Generator
    var kind: String
    var time: String
    var timeUnix: Int
    var host: Host
    var process: Process
    var fault: Fault?
    var threads: [Thread]
    var globals: [Variable]?
    /// Collectors' sections by id ("process", "system").
    var sections: [String: SentryJSON]?
    var modules: [Module]
    var tracers: [Tracer]
    var problems: [String]
    var timing: [String]

    /// Decodes a report; the error says which field is wrong.
    static func decode(_ data: [UInt8]) throws -> SentryReportDocument {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(SentryReportDocument.self, from: Data(data))
    }
}

extension String {
    /// The value of a "0x…" address string.
    var hexAddress: UInt64? { hasPrefix("0x") ? UInt64(dropFirst(2), radix: 16) : nil }
}
