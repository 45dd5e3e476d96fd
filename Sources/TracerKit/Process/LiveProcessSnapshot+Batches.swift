// LiveProcessSnapshot+Batches: the live snapshot that stops its target a batch of threads at a time.
// A running server's workers must not stall for the whole capture: each batch is stopped, its
// registers read and its stacks copied (one process_vm_readv), then released before the next
// batch is stopped, so a worker stalls only for its own batch. The price: the batches are
// consistent each, not with one another (threads started meanwhile are not captured); unwinding
// and everything else read the copied stacks afterwards, as for any live snapshot.

#if canImport(Glibc)
import Glibc
#endif

extension LiveProcessSnapshot {
    /// Threads a live snapshot stops at once.
    public static let liveBatchSize = 16

    /// A snapshot taken in batches, and how long the longest batch held its threads.
    public struct BatchedCapture {
        public var snapshot: LiveProcessSnapshot
        /// Seconds the longest-held batch was stopped (its threads' stall).
        public var longestStop: Double
        public var batches: Int
        /// Threads that exited while being stopped.
        public var vanishedThreads: [Int32]
    }

    /// Captures `pid` while it runs, stopping `batchSize` threads at a time. `hold` is told the
    /// threads stopped at each moment (empty once a batch is released), for the crash guard.
    /// Throws when no thread at all could be stopped.
    public static func captureInBatches(pid: Int32, deadline: Deadline, stopTimeout: Double = PtraceSession.defaultStopTimeout,
                                        batchSize: Int = liveBatchSize, vectorRegisters: Bool = false,
                                        stackCopyLimit: Int = defaultStackCopyLimit,
                                        hold: ([Int32]) -> Void = { _ in }) throws(PtraceError) -> BatchedCapture {
        let listed = ProcFile.numericEntries(of: "/proc/\(pid)/task")
        // A main thread that exited (a zombie) has no memory map: another thread stands for it.
        let source = threadState(pid: pid, tid: pid) == "Z" ? listed.first { $0 != pid } ?? pid : pid
        let mappings = MemoryMapping.parse(ProcFile.readText("/proc/\(source)/maps", limit: 16 << 20) ?? "")
        let reader = CachingMemoryReader(ProcessVMReader(pid: source))
        var threads: [ThreadSnapshot] = []
        var problems: [String] = []
        var vanished: [Int32] = []
        var firstFailure: PtraceError? = nil
        var longest = 0.0, batches = 0, budget = stackCopyLimit, wanted = 0, copied = 0
        for first in stride(from: 0, to: listed.count, by: max(1, batchSize)) {
            let batch = Array(listed[first..<min(listed.count, first + max(1, batchSize))])
            let stopStart = Deadline.now()
            let session: PtraceSession
            do {
                session = try PtraceSession.attach(pid: pid, deadline: deadline, stopTimeout: stopTimeout, only: batch)
            } catch {
                // Refused (Yama, another user): so would every other batch be.
                if case .notPermitted = error, threads.isEmpty { throw error }
                firstFailure = firstFailure ?? error
                switch error {
                case .processGone: vanished += batch
                case .noThreadStopped(_, let reasons): problems += reasons
                default: problems.append(error.description)
                }
                continue
            }
            hold(session.threads.map(\.tid))
            let batchThreads = readThreads(of: session, vectorRegisters: vectorRegisters, problems: &problems)
            let ranges = batchThreads.compactMap { $0.registers.flatMap { stackRange(sp: $0.rsp, mappings: mappings) } }
            let asked = CachingMemoryReader.bytesToCopy(ranges)
            wanted += asked
            copied += reader.prefetch(ranges, limit: budget)
            budget = max(0, budget - asked)
            problems += session.problems
            vanished += session.vanishedThreads
            session.detach()
            hold([])
            longest = max(longest, Deadline.now().seconds(since: stopStart))
            batches += 1
            threads += batchThreads
        }
        if threads.isEmpty { throw firstFailure ?? .processGone(pid: pid) }
        let cut = wanted > stackCopyLimit
            ? "stack_copy_limit (\(stackCopyLimit / 1024) KiB) cut the up-front copy of \(threads.count) threads' stacks from \(wanted / 1024) KiB; the rest was read page by page as unwinding needed it"
            : nil
        let commandLine = (ProcFile.readBytes("/proc/\(source)/cmdline", limit: 64 * 1024).map { bytes in
            bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        }.get ?? []).filter { !$0.isEmpty }
        let snapshot = LiveProcessSnapshot(
            pid: pid, executable: ProcFile.readLink("/proc/\(source)/exe") ?? commandLine.first ?? "?",
            commandLine: commandLine, threads: threads, mappings: mappings, fault: nil, memory: reader,
            problems: problems, copiedStackBytes: copied, stackCopyCut: cut, addressSpacePid: source)
        return BatchedCapture(snapshot: snapshot, longestStop: longest, batches: batches, vanishedThreads: vanished)
    }
}
