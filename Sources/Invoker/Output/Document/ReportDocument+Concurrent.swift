// ReportDocument+Concurrent: a large report's JSON made on two threads. The second half of the
// threads becomes documents, trees and text (a YAJL generator of its own, at the depth the
// threads have in the report) on a JoinableThread, the machine's other core, while this thread
// makes the rest; the second half's text then goes into the report's as its last `threads`
// items. A live snapshot's caller waits for its files, on a machine its target keeps busy: at 256
// threads the JSON was about 70 ms of one core (bench/README.md). The bytes are those of
// `encoded()` (JSONTreeTests).

import TracerKit

extension ReportDocument {
    /// Below this many threads, one thread makes the whole tree.
    static let concurrentEncodingThreshold = 64

    /// `report`'s document as `ReportDocument(report:…).encoded()` writes it, made on two threads.
    static func encodedConcurrently(report: CrashReport, kind: String, helperVersion: String) -> [UInt8] {
        let count = report.threads.count
        guard count >= concurrentEncodingThreshold else {
            return ReportDocument(report: report, kind: kind, helperVersion: helperVersion).encoded()
        }
        let split = count / 2
        let groups = ThreadGrouping.groups(of: report.threads)
        let second = JoinableThread { () -> [UInt8]? in
            guard let trees = try? ReportDocument.threads(of: report, in: split..<count, groups: groups).map({ try JSONTreeEncoder.tree(of: $0) })
            else { return nil }
            return JSONTree.itemsText(trees, inArray: CodingKeys.threads.rawValue)
        }
        let document = ReportDocument(report: report, kind: kind, helperVersion: helperVersion, threadsUpTo: split)
        let tree = try? JSONTreeEncoder.tree(of: document)
        guard let rest = second.join(), case .object(let root)? = tree, case .array(let threads)? = root.value(for: CodingKeys.threads.rawValue) else {
            return ReportDocument(report: report, kind: kind, helperVersion: helperVersion).encoded()
        }
        threads.elements.append(.written(rest))
        return tree.flatMap { $0.prettyPrinted() } ?? ReportDocument(report: report, kind: kind, helperVersion: helperVersion).encoded()
    }
}
