// ReportSection: a titled, ordered set of facts a collector returns for the report (system stats,
// process details). Writers render every section the same way: the text log as aligned
// "key: value" lines, the JSON report as an object.

/// A value in a report section.
public indirect enum FieldValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case number(Double)
    case flag(Bool)
    case list([String])
    /// A nested group of fields.
    case group([Field])
}

/// One named fact.
public struct Field: Sendable, Equatable {
    /// A stable machine name ("mem_available_kb"): the JSON key.
    public var key: String
    public var value: FieldValue
    /// A warning about this value ("at 93 % of its limit"), shown next to it.
    public var flag: String?

    public init(_ key: String, _ value: FieldValue, flag: String? = nil) {
        self.key = key; self.value = value; self.flag = flag
    }
}

/// A section of the report.
public struct ReportSection: Sendable, Equatable {
    /// Stable machine name ("system", "process"): the JSON key.
    public var id: String
    /// The heading in the text log ("System", "Process Details").
    public var title: String
    public var fields: [Field]
    /// What could not be read, as sentences.
    public var problems: [String]

    public init(id: String, title: String, fields: [Field] = [], problems: [String] = []) {
        self.id = id; self.title = title; self.fields = fields; self.problems = problems
    }

    /// The field with `key`, at the top level.
    public subscript(key: String) -> FieldValue? { fields.first { $0.key == key }?.value }
}
