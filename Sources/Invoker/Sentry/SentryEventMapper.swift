// SentryEventMapper: turns one JSON report (ReportDocument) into a Sentry event, shaped as Relay's
// protocol (relay-event-schema/src/protocol/) and sentry-native's out-of-process crashes are:
// platform native; the crashing thread's stack and registers in exception.values[0] with a
// signalhandler mechanism; the other threads in threads.values[]; frames oldest first; every
// module with a build-id in debug_meta.images (code_id and debug_id, see DebugIdentifier); the
// report's fingerprint as Sentry's, so local groups and Sentry's issues agree.
// Limits (frames per stack, variables, the event's size) are applied in +Limits.

import FoundationEssentials
import TracerKit
import Tracers

/// What the mapping leaves out to stay within Relay's limits.
struct SentryDetail: Equatable {
    enum Variables: Equatable { case all, crashingThread, none }
    var variables = Variables.all
    /// Frames kept per stack (the innermost and the outermost, see +Limits).
    var framesPerStack = 250
    /// Frames kept per non-crashing thread; 0 drops their stacks.
    var framesPerOtherThread = 250
    var registersOfOtherThreads = true
}

struct SentryEventMapper {
    let settings: SentrySettings
    /// invoker's version (the event's sdk).
    let clientVersion: String
    /// The reports' redaction (names and value shapes), applied again to what leaves the machine.
    var redactor = Redactor()

    static let redacted = Redactor.marker
    /// Variables per frame and characters per value kept in `vars`.
    static let maxVariablesPerFrame = 50
    static let maxValueCharacters = 512

    /// The event for `document`, with `eventID` (32 hex digits); `cuts` says what was left out.
    func event(from document: ReportDocument, eventID: String, detail: SentryDetail = SentryDetail(),
               cuts: [String] = []) -> JSONValue {
        var cuts = cuts
        let isCrash = document.kind == "crash" && document.fault != nil
        let crashingTID = document.fault?.crashingThread ?? document.threads.first(where: \.crashed)?.tid
        let images = ImageTable(document.modules)
        var event: [String: JSONValue] = [
            "event_id": .string(eventID),
            "timestamp": .integer(Int64(document.timeUnix ?? 0)),
            "platform": "native",
            "level": isCrash ? "fatal" : "warning",
            "logger": "invoker",
            "server_name": .string(settings.serverName ?? document.host?.hostname ?? "?"),
            "sdk": ["name": "invoker", "version": .string(clientVersion)],
        ]
        if let environment = settings.environment { event["environment"] = .string(environment) }
        let version = serverVersion(document)
        if let template = settings.release {
            if template.contains("%v"), version == nil {
                cuts.append("release not set: its template \(template) needs the server's version (%v), which the report does not have")
            } else {
                event["release"] = .string(template.replacingOccurrences(of: "%v", with: version ?? ""))
            }
        }
        if let fingerprint = document.fault?.fingerprint, !fingerprint.isEmpty {
            event["fingerprint"] = [.string(fingerprint)]
        }
        var tags: [String: JSONValue] = ["report_kind": .string(document.kind ?? "?")]
        if let signal = document.fault?.signal { tags["signal"] = .string(signal.name) }
        if let kind = document.fault?.classification?.kind { tags["fault_kind"] = .string(kind) }
        if let version { tags["ats_version"] = .string(version) }
        for (key, value) in settings.tags { tags[key] = .string(value) }
        event["tags"] = .object(tags)

        var threadValues: [JSONValue] = []
        for thread in document.threads {
            let isCrashing = thread.tid == crashingTID
            var entry: [String: JSONValue] = [
                "id": .integer(Int64(thread.tid)), "name": .string(thread.name),
                "crashed": .bool(isCrash && isCrashing), "current": .bool(isCrashing),
                "main": .bool(thread.tid == document.process.pid),
            ]
            // The crashing thread's stack is the exception's (sentry-native does the same).
            if !(isCrash && isCrashing) {
                let limit = min(detail.framesPerStack, detail.framesPerOtherThread)
                if limit > 0, !thread.frames.isEmpty {
                    entry["stacktrace"] = stacktrace(thread, limit: limit, images: images, document: document,
                                                     variables: detail.variables == .all,
                                                     registers: detail.registersOfOtherThreads || isCrashing, cuts: &cuts)
                }
            }
            threadValues.append(.object(entry))
        }
        if detail.framesPerOtherThread == 0, document.threads.count > 1 {
            cuts.append("the stacks of the \(document.threads.count - 1) other threads were left out to stay under \(settings.maxEventBytes) bytes")
        }
        event["threads"] = ["values": .array(threadValues)]

        if isCrash, let fault = document.fault {
            let crashing = document.threads.first { $0.tid == crashingTID }
            var exception: [String: JSONValue] = [
                "type": .string(fault.signal?.name ?? "crash"),
                "value": .string(fault.classification?.summary ?? fault.signal?.description ?? "the process crashed"),
                "mechanism": mechanism(fault),
            ]
            if let crashingTID { exception["thread_id"] = .integer(Int64(crashingTID)) }
            if let crashing, !crashing.frames.isEmpty {
                var registers = crashing.registers
                if registers == nil || registers?.isEmpty == true { registers = fault.registers }
                var withRegisters = crashing
                withRegisters.registers = registers
                exception["stacktrace"] = stacktrace(withRegisters, limit: detail.framesPerStack, images: images, document: document,
                                                     variables: detail.variables != .none, registers: true, cuts: &cuts)
            }
            event["exception"] = ["values": [.object(exception)]]
        } else {
            event["message"] = ["formatted": .string("live snapshot of \(document.process.name ?? document.process.executable ?? "?") (pid \(document.process.pid))")]
        }
        event["debug_meta"] = ["images": .array(images.debugImages())]
        event["contexts"] = contexts(document, version: version, cuts: cuts, detail: detail)
        return .object(event)
    }

    private func mechanism(_ fault: ReportDocument.Fault) -> JSONValue {
        var mechanism: [String: JSONValue] = ["type": "signalhandler", "synthetic": true, "handled": false]
        if let signal = fault.signal {
            var meta: [String: JSONValue] = ["number": .integer(Int64(signal.number)), "name": .string(signal.name)]
            if let code = fault.code {
                meta["code"] = .integer(Int64(code.value))
                // "SEGV_MAPERR (address not mapped to object)": the name is the first word.
                if let name = code.meaning.split(separator: " ").first, name.allSatisfy({ $0.isUppercase || $0 == "_" || $0.isNumber }) {
                    meta["code_name"] = .string(String(name))
                }
            }
            mechanism["meta"] = ["signal": .object(meta)]
            mechanism["description"] = .string(signal.description)
        }
        if let address = fault.address { mechanism["data"] = ["relevant_address": .string(address)] }
        return .object(mechanism)
    }

    /// A Sentry stacktrace from a thread (frames oldest first; at most `limit`, see +Limits).
    private func stacktrace(_ thread: ReportDocument.Thread, limit: Int, images: ImageTable, document: ReportDocument,
                            variables: Bool, registers: Bool, cuts: inout [String]) -> JSONValue {
        let (kept, omitted) = Self.keepEnds(thread.frames, limit: limit)
        if omitted > 0 {
            cuts.append("thread \(thread.tid): \(omitted) of its \(thread.frames.count) frames were left out (the innermost and outermost are kept)")
        }
        var frames = kept.map { frame(for: $0, images: images, document: document, variables: variables) }
        frames.reverse()
        var stacktrace: [String: JSONValue] = ["frames": .array(frames)]
        if registers, let values = thread.registers, !values.isEmpty {
            stacktrace["registers"] = .object(values.mapValues { .string($0) })
        }
        return .object(stacktrace)
    }

    private func frame(for frame: ReportDocument.Frame, images: ImageTable, document: ReportDocument, variables: Bool) -> JSONValue {
        var result: [String: JSONValue] = [
            "instruction_addr": .string(frame.pc),
            "trust": .string(Self.trust(frame.recovery)),
        ]
        if let module = frame.module {
            result["package"] = .string(module)
            if let start = images.start(of: module) { result["image_addr"] = .string(start) }
        }
        if let function = frame.function {
            result["function"] = .string(function)
            if let offset = frame.functionOffset?.hexAddress, let pc = frame.pc.hexAddress, offset <= pc {
                result["symbol_addr"] = .string("0x" + String(pc - offset, radix: 16))
            }
        }
        if let file = frame.file {
            result["abs_path"] = .string(file)
            result["filename"] = .string(file.split(separator: "/").last.map(String.init) ?? file)
        }
        if let line = frame.line { result["lineno"] = .integer(Int64(line)) }
        if let column = frame.column { result["colno"] = .integer(Int64(column)) }
        result["in_app"] = .bool(isInApp(module: frame.module, function: frame.function, executable: document.process.executable ?? ""))
        if variables, let list = frame.variables, !list.isEmpty {
            var vars: [String: JSONValue] = [:]
            for variable in list.prefix(Self.maxVariablesPerFrame) {
                vars[variable.name] = .string(value(of: variable))
            }
            if list.count > Self.maxVariablesPerFrame {
                vars["…"] = .string("\(list.count - Self.maxVariablesPerFrame) more variables not sent (see the attached report)")
            }
            result["vars"] = .object(vars)
        }
        return .object(result)
    }

    /// A variable's value as sent: redacted when its name looks secret; capped in length.
    func value(of variable: ReportDocument.Variable) -> String {
        if isSecret(variable.name) { return Self.redacted }
        var text = variable.value ?? "<\(variable.note ?? "no value")>"
        if let pointee = variable.pointee, variable.value != nil { text += " → " + pointee }
        if text.count > Self.maxValueCharacters { text = String(text.prefix(Self.maxValueCharacters)) + "…" }
        return text
    }

    func isSecret(_ name: String) -> Bool { redactor.isSecretName(name) }

    /// The command line with secret-looking values hidden, as in the reports.
    func redactedCommandLine(_ words: [String]) -> [String] { redactor.redactArguments(words) }

    /// Our frame recovery as Sentry's frame trust.
    static func trust(_ recovery: String) -> String {
        switch recovery {
        case "context", "registers", "signal-context": "context"
        case "cfi": "cfi"
        case "frame-pointer": "fp"
        default: "scan"
        }
    }

    private func isInApp(module: String?, function: String?, executable: String) -> Bool {
        if settings.inApp.isEmpty { return module == executable }
        return settings.inApp.contains { pattern in
            (module?.contains(pattern) ?? false) || (function?.contains(pattern) ?? false)
        }
    }

    /// The server's version number ("9.2.9" of "Traffic Server 9.2.9"), when the report has it.
    func serverVersion(_ document: ReportDocument) -> String? {
        guard let banner = document.process.serverVersion else { return nil }
        return banner.split(separator: " ").last { $0.first?.isNumber == true }.map(String.init)
    }
}
