// InMemoryProcessSnapshot: a ProcessSnapshot made of given values and an InMemoryReader, for unit
// tests of the stages above the snapshot (collectors, fault classification, the report
// assembler) without a live process, as crashpad's test_process_snapshot serves its writers.

/// A snapshot built from values; it has no modules (no libdwfl session) unless one is given.
public final class InMemoryProcessSnapshot: ProcessSnapshot {
    public var pid: Int32
    public var addressSpacePid: Int32
    public var executable: String
    public var commandLine: [String]
    public var threads: [ThreadSnapshot]
    public var mappings: [MemoryMapping]
    public var modules: ModuleIndex?
    public var fault: FaultContext?
    public var memory: any MemoryReader
    public var problems: [String]

    public init(pid: Int32, executable: String = "/usr/bin/target", commandLine: [String] = ["/usr/bin/target"],
                threads: [ThreadSnapshot] = [], mappings: [MemoryMapping] = [], modules: ModuleIndex? = nil,
                fault: FaultContext? = nil, memory: any MemoryReader = InMemoryReader(), problems: [String] = []) {
        self.pid = pid; self.addressSpacePid = pid; self.executable = executable; self.commandLine = commandLine
        self.threads = threads; self.mappings = mappings; self.modules = modules; self.fault = fault
        self.memory = memory; self.problems = problems
    }
}
