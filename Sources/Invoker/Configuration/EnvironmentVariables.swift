// EnvironmentVariables: the environment as the helper's start-up reads it, one variable at a time
// by name. Each variable the configuration's location, the extra tracer and the log directory
// depend on is read where it is used, with getenv: no dictionary of the whole environment is made
// before the helper parks (the runtime's first String-keyed dictionary costs a scan of every protocol conformance
// record, 0.8 MB of the parked helper: bench/README.md), and no list of the names to read has to
// be kept beside the code that reads them. Tests give the values as a dictionary literal.

#if canImport(Glibc)
import Glibc
#endif

struct EnvironmentVariables: ExpressibleByDictionaryLiteral, Sendable {
    private let lookup: @Sendable (String) -> String?

    /// The process's own environment.
    static var process: EnvironmentVariables { EnvironmentVariables { name in getenv(name).map { String(cString: $0) } } }

    private init(lookup: @escaping @Sendable (String) -> String?) {
        self.lookup = lookup
    }

    /// Exactly these variables (a test's).
    init(dictionaryLiteral elements: (String, String)...) {
        let values = Dictionary(elements, uniquingKeysWith: { _, last in last })
        self.init { values[$0] }
    }

    /// The variable's value; nil when it is not set.
    subscript(name: String) -> String? { lookup(name) }
}
