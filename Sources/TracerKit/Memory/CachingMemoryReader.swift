// CachingMemoryReader: a page cache in front of another MemoryReader. Unwinding reads the same
// stack words and unwind tables many times; with this decorator each page costs one read, and
// `prefetch` copies whole stacks with one process_vm_readv per batch, into buffers it keeps whole.

/// Caches the pages another reader returns, including the fact that a page is unreadable.
public final class CachingMemoryReader: MemoryReader {
    public static let pageSize: UInt64 = 4096
    private let base: any MemoryReader
    /// Page number → its bytes (a page of its own, or one inside a prefetched block), or nil for
    /// a page known to be unreadable. Pages loaded on demand only; prefetched ones are in `blocks`.
    private var pages: [UInt64: UnsafeRawPointer?] = [:]
    /// What `prefetch` copied: one buffer per range, kept whole (its pages are not copied again
    /// one by one), sorted by first page.
    private var blocks: [(firstPage: UInt64, pageCount: Int, bytes: UnsafeMutableRawBufferPointer)] = []
    /// Buffers this reader allocated (freed with it).
    private var owned: [UnsafeMutableRawBufferPointer] = []
    /// Reads that went to the underlying reader (for the benchmark and tests).
    public private(set) var missCount = 0
    /// The reader whose prefetched blocks this one reads (kept alive: it owns their buffers).
    private var blocksOwner: CachingMemoryReader?

    public init(_ base: any MemoryReader) { self.base = base }

    deinit { owned.forEach { $0.deallocate() } }

    /// A reader for another thread (neither reader is thread-safe): its own page cache and its
    /// own reader of the target for pages not prefetched, over the blocks this one prefetched
    /// (only read from then on). Nil unless the base reader is a `ProcessVMReader`.
    public func forAnotherThread() -> CachingMemoryReader? {
        guard let vm = base as? ProcessVMReader else { return nil }
        let reader = CachingMemoryReader(ProcessVMReader(pid: vm.pid))
        reader.blocks = blocks
        reader.blocksOwner = self
        return reader
    }

    /// The page the last read hit: unwinding reads neighbouring words, mostly in one page.
    private var lastPageNumber = UInt64.max
    private var lastPage: UnsafeRawPointer? = nil

    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) throws(MemoryReadError) {
        let offsetInPage = Int(address % Self.pageSize)
        if address / Self.pageSize == lastPageNumber, let lastPage, offsetInPage + buffer.count <= Int(Self.pageSize) {
            buffer.baseAddress!.copyMemory(from: lastPage + offsetInPage, byteCount: buffer.count)
            return
        }
        var done = 0
        while done < buffer.count {
            let current = address &+ UInt64(done)
            let pageNumber = current / Self.pageSize
            let offset = Int(current % Self.pageSize)
            let take = min(buffer.count - done, Int(Self.pageSize) - offset)
            guard let page = try page(pageNumber) else {
                throw MemoryReadError(address: current, count: buffer.count, reason: "page is not readable")
            }
            buffer.baseAddress!.advanced(by: done).copyMemory(from: page + offset, byteCount: take)
            lastPageNumber = pageNumber
            lastPage = page
            done += take
        }
    }

    /// Fills the cache for whole ranges at once when the base reader is a `ProcessVMReader`
    /// (one system call per IOV_MAX ranges); otherwise does nothing and pages load on demand.
    /// Returns the bytes copied. `ranges` are given in order of importance; at most `limit`
    /// bytes are copied in all (each range keeps its low end, where a stack pointer is).
    @discardableResult
    public func prefetch(_ ranges: [ClosedRange<UInt64>], limit: Int = .max) -> Int {
        guard let vm = base as? ProcessVMReader else { return 0 }
        var requests: [(address: UInt64, buffer: UnsafeMutableRawBufferPointer)] = []
        var budget = limit
        for (first, pages) in Self.pagesToCopy(ranges) {
            let size = min(pages * Int(Self.pageSize), budget / Int(Self.pageSize) * Int(Self.pageSize))
            guard size > 0 else { break }
            budget -= size
            requests.append((first * Self.pageSize, .allocate(byteCount: size, alignment: 16)))
        }
        guard !requests.isEmpty else { return 0 }
        let copied = vm.read(ranges: requests)
        missCount += 1
        for (request, count) in zip(requests, copied) {
            owned.append(request.buffer)
            let whole = count / Int(Self.pageSize)
            if whole > 0 { blocks.append((request.address / Self.pageSize, whole, request.buffer)) }
        }
        blocks.sort { $0.firstPage < $1.firstPage }
        return copied.reduce(0, +)
    }

    /// The first page and the page count of each range (ranges over 16 MiB are skipped).
    static func pagesToCopy(_ ranges: [ClosedRange<UInt64>]) -> [(first: UInt64, pages: Int)] {
        ranges.compactMap { range in
            let first = range.lowerBound / pageSize, last = range.upperBound / pageSize
            guard last >= first, last - first < 4096 else { return nil }
            return (first, Int(last - first + 1))
        }
    }

    /// Bytes `prefetch` would copy for `ranges` with no limit.
    public static func bytesToCopy(_ ranges: [ClosedRange<UInt64>]) -> Int {
        pagesToCopy(ranges).reduce(0) { $0 + $1.pages * Int(pageSize) }
    }

    /// The page `number` inside a prefetched block, if one holds it.
    private func prefetchedPage(_ number: UInt64) -> UnsafeRawPointer? {
        // The last block starting at or before the page, then earlier ones (blocks of one
        // stack's two ranges, a fault's and a stop's stack pointer, may overlap).
        var low = 0, high = blocks.count
        while low < high {
            let mid = (low + high) / 2
            if blocks[mid].firstPage <= number { low = mid + 1 } else { high = mid }
        }
        var index = low - 1
        while index >= 0 {
            let block = blocks[index]
            if number < block.firstPage + UInt64(block.pageCount) {
                return UnsafeRawPointer(block.bytes.baseAddress!) + Int(number - block.firstPage) * Int(Self.pageSize)
            }
            // Blocks are at most 4096 pages: one starting further back cannot reach this page.
            if number - block.firstPage >= 4096 { break }
            index -= 1
        }
        return nil
    }

    private func page(_ number: UInt64) throws(MemoryReadError) -> UnsafeRawPointer? {
        if let cached = pages[number] { return cached }
        if let prefetched = prefetchedPage(number) { return prefetched }
        missCount += 1
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(Self.pageSize), alignment: 16)
        do throws(MemoryReadError) {
            try base.read(into: buffer, at: number * Self.pageSize)
        } catch {
            buffer.deallocate()
            pages[number] = .some(nil)
            return nil
        }
        owned.append(buffer)
        let page = UnsafeRawPointer(buffer.baseAddress!)
        pages[number] = .some(page)
        return page
    }
}
