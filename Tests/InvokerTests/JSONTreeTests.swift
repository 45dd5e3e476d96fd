// The JSON report's writer (JSONTreeEncoder, then YAJL through JSONTree) against Foundation's
// JSONEncoder, the writer it replaced: the same bytes but for the key separator (`"key": `
// where JSONEncoder writes `"key" : `), for a complete report and for a live snapshot of 64
// real threads; strings JSONEncoder escapes come back the same; numbers have JSONEncoder's text;
// a NaN is null instead of costing the report; a tree deeper than YAJL's limit is still written.

import Foundation
import TestSupport
import Testing
import TracerKit
@testable import Invoker

/// JSONEncoder's text of `value` as the report was written before YAJL: pretty, sorted, slashes as they are.
private func foundationText<Value: Encodable>(_ value: Value) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
}

/// JSONEncoder's separator after a key (a line's first string, then " : ") as YAJL writes it.
private func withYAJLSeparators(_ text: String) throws -> String {
    let keyAtLineStart = try NSRegularExpression(pattern: #"^( *"(?:[^"\\]|\\.)*") : "#, options: [.anchorsMatchLines])
    return keyAtLineStart.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "$1: ")
}

@Suite(.timeLimit(.minutes(1))) struct JSONTreeTests {
    @Test func aCompleteReportIsJSONEncodersTextButForTheSeparator() throws {
        let document = ReportDocument(report: completeReport(), kind: "crash", helperVersion: "test")
        let written = String(decoding: document.encoded(), as: UTF8.self)
        #expect(written == (try withYAJLSeparators(try foundationText(document))))
        #expect(written.hasPrefix("{\n  \"fault\": {\n"))
        #expect(written.hasSuffix("\n}\n"))
    }

    @Test(.enabled(if: ptraceUnavailableReason() == nil, "ptrace is not permitted on this machine"))
    func aLiveSnapshotOfSixtyFourThreadsIsJSONEncodersTextButForTheSeparator() throws {
        let target = try TestProcess(builtProduct("cpp-hang"), ["--threads", "64", "--ready-fd", "3"], reportPipe: true)
        defer { target.finish() }
        _ = target.readReportLine()
        let (_, _, jsonPath) = try snapshotReports(target.pid)
        let written = try #require(readFile(jsonPath))
        let document = try ReportDocument.decode(Array(written.utf8))
        // The main thread and 63 workers, each blocked in the fixture's chain.
        #expect(document.threads.count == 64)
        #expect(document.threads.allSatisfy { $0.frames.contains { $0.function == "fixture::deep::block(int)" } })
        #expect(written == (try withYAJLSeparators(try foundationText(document))))
        target.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func stringsComeBackAsTheyWere() throws {
        let awkward = ["quote \" backslash \\ slash /", "control \u{01}\u{1F}\u{7F} tab\t newline\n return\r",
                       "é ü 日本 🦀 \u{2028}\u{2029}", "", "nul \u{0} inside", "\u{301}combining first"]
        var report = completeReport()
        report.problems = awkward
        report.threads[0].name = awkward[1]
        let document = ReportDocument(report: report, kind: "crash", helperVersion: "test")
        let decoded = try ReportDocument.decode(document.encoded())
        #expect(decoded == document)
        #expect(decoded.problems == awkward)
        #expect(decoded.threads[0].name == awkward[1])
    }

    @Test func numbersHaveJSONEncodersText() throws {
        let values: [Double] = [0.012, 1.5, 50, -0.0, 1e-7, 1e21, 0.1 + 0.2, 123456789.125, -3]
        for value in values {
            let ours = JSONTreeEncoder.number(value)
            let theirs = String(decoding: try JSONEncoder().encode([value]), as: UTF8.self).dropFirst().dropLast()
            guard case .number(let text) = ours else { Issue.record("\(value) is not a number: \(ours)"); continue }
            #expect(text == String(theirs), "\(value)")
        }
        let integers = JSONTree.object(JSONTreeObject())
        guard case .object(let object) = integers else { return }
        object.set(.number(String(Int64.min)), for: "min")
        object.set(.number(String(UInt64.max)), for: "max")
        #expect(String(decoding: try #require(integers.prettyPrinted()), as: UTF8.self)
                    == "{\n  \"max\": 18446744073709551615,\n  \"min\": -9223372036854775808\n}\n")
    }

    /// JSONEncoder refuses a NaN and the report became "{}"; now that one value is null.
    @Test func aNaNIsNullAndTheReportIsWritten() throws {
        var report = completeReport()
        report.sections[0].fields.append(Field("ratio", .number(.nan)))
        report.sections[0].fields.append(Field("rate", .number(.infinity)))
        let written = String(decoding: ReportDocument(report: report, kind: "crash", helperVersion: "test").encoded(), as: UTF8.self)
        #expect(written.contains("\"ratio\": null"))
        #expect(written.contains("\"rate\": null"))
        let decoded = try ReportDocument.decode(Array(written.utf8))
        #expect(decoded.threads.count == report.threads.count)
    }

    @Test func aKeyEncodedTwiceKeepsItsLastValueAndKeysSortByTheirBytes() throws {
        let object = JSONTreeObject()
        object.set(.string("first"), for: "b")
        object.set(.string("z"), for: "é")
        object.set(.string("upper"), for: "B")
        object.set(.string("second"), for: "b")
        object.set(.bool(true), for: "a")
        let text = String(decoding: try #require(JSONTree.object(object).prettyPrinted()), as: UTF8.self)
        #expect(text == "{\n  \"B\": \"upper\",\n  \"a\": true,\n  \"b\": \"second\",\n  \"é\": \"z\"\n}\n")
    }

    /// YAJL refuses more than 128 levels; the report is then written by JSONEncoder, whole.
    @Test func aTreeDeeperThanYAJLsLimitIsStillWritten() throws {
        var deep = FieldValue.text("bottom")
        for level in 0..<200 { deep = .group([Field("level\(level)", deep)]) }
        var report = completeReport()
        report.sections[0].fields.append(Field("deep", deep))
        let document = ReportDocument(report: report, kind: "crash", helperVersion: "test")
        #expect((try JSONTreeEncoder.tree(of: document)).prettyPrinted() == nil)
        let written = document.encoded()
        #expect(try ReportDocument.decode(written) == document)
        #expect(written.last == UInt8(ascii: "\n"))
    }
}
