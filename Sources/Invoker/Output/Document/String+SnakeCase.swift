// String+SnakeCase: a collector's field key as the JSON report writes it ("MemTotal" → "mem_total",
// "VmRSS" → "vm_rss", "NFS_Unstable" → "n_fs__unstable"). The rule is Foundation's key strategy
// `convertToSnakeCase` (words split before an uppercase letter, a run up to the one before the
// next lowercase letter one word, underscores kept, then lowercased), which earlier writers
// applied to these keys; ReportDocumentTests checks it against JSONEncoder's own.

extension String {
    /// The key in snake case, by JSONEncoder's `convertToSnakeCase` rule.
    var snakeCased: String {
        guard !isEmpty else { return self }
        var words: [Range<String.Index>] = []
        var wordStart = startIndex
        var searchRange = index(after: wordStart)..<endIndex
        while let upper = self[searchRange].firstIndex(where: \.isUppercase) {
            words.append(wordStart..<upper)
            searchRange = upper..<searchRange.upperBound
            guard let lower = self[searchRange].firstIndex(where: \.isLowercase) else {
                wordStart = searchRange.lowerBound
                break
            }
            if lower == index(after: upper) {
                // A capital then a lowercase letter: the start of a word.
                wordStart = upper
            } else {
                // A run of capitals (and what is neither case): a word of its own, up to the
                // character before the lowercase letter.
                let beforeLower = index(before: lower)
                words.append(upper..<beforeLower)
                wordStart = beforeLower
            }
            searchRange = lower..<searchRange.upperBound
        }
        words.append(wordStart..<searchRange.upperBound)
        return words.map { self[$0].lowercased() }.joined(separator: "_")
    }
}
