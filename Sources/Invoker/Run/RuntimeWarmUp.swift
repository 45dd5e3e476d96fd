// RuntimeWarmUp: one-time work of the Swift runtime that the crash's capture needs, done on the
// stopped window's second thread (WindowCompanion) as soon as it starts, while the main thread
// reads Process Status and before it hands over the crash guard's report.
//
// The first generic type of each kind (a dictionary keyed by String, a set of Int32, …) makes the
// runtime look up its key's conformance (String: Hashable) by a scan of every protocol conformance
// record of the binary, about 0.4 million instructions each: more than a tenth of the main
// thread's work between the wake and the release (callgrind, N=16). The parked helper makes none
// of these lookups (it builds no String-keyed dictionary: EnvironmentVariables; each scan
// would bring 0.8 MB of the binary into the parked helper by 64 KB fault-around windows,
// bench/README.md). Made here first, they are cached when the main thread's attach, copy and
// unwinder need them; should the main thread get there first, it makes the lookup itself, as
// before. The types are the ones the main thread's capture instantiates first (the attach's set
// of thread ids, the page cache's ranges and table, the unwinder's table of modules); the stdlib's
// prespecialized ones (a String: Int dictionary, a set of Int) need no lookup and would warm
// nothing.

enum RuntimeWarmUp {
    /// Makes the runtime's conformance lookups for Int32: Hashable, UInt64: Comparable,
    /// UInt64: Hashable and String: Hashable, in the order the main thread needs them. Each
    /// collection gets an element: the lookup is made where the storage is first allocated.
    static func captureConformances() {
        var threadIDs = Set<Int32>()
        threadIDs.insert(0)
        var ranges: [Range<UInt64>] = []
        ranges.append(0..<1)
        var pages: [UInt64: UnsafeRawPointer?] = [:]
        pages[0] = .some(nil)
        var modules: [String: String?] = [:]
        modules[""] = .some(nil)
        withExtendedLifetime((threadIDs, ranges, pages, modules)) {}
    }
}
