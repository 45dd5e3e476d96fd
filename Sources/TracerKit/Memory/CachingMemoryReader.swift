// CachingMemoryReader: a page cache in front of another MemoryReader. Unwinding reads the same
// stack words and unwind tables many times; with this decorator each page costs one read, and
// `prefetch` copies whole stacks with one process_vm_readv per batch.

/// Caches the pages another reader returns, including the fact that a page is unreadable.
public final class CachingMemoryReader: MemoryReader {
    public static let pageSize: UInt64 = 4096
    private let base: any MemoryReader
    /// Page number → its bytes, or nil for a page known to be unreadable.
    private var pages: [UInt64: [UInt8]?] = [:]
    /// Reads that went to the underlying reader (for the benchmark and tests).
    public private(set) var missCount = 0

    public init(_ base: any MemoryReader) { self.base = base }

    /// The page the last read hit: unwinding reads neighbouring words, mostly in one page.
    private var lastPageNumber = UInt64.max
    private var lastPage: [UInt8] = []

    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) throws(MemoryReadError) {
        let offsetInPage = Int(address % Self.pageSize)
        if address / Self.pageSize == lastPageNumber, offsetInPage + buffer.count <= Int(Self.pageSize) {
            lastPage.withUnsafeBytes { bytes in
                buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + offsetInPage, byteCount: buffer.count)
            }
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
            page.withUnsafeBytes { bytes in
                buffer.baseAddress!.advanced(by: done).copyMemory(from: bytes.baseAddress! + offset, byteCount: take)
            }
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
        defer { requests.forEach { $0.buffer.deallocate() } }
        guard !requests.isEmpty else { return 0 }
        let copied = vm.read(ranges: requests)
        missCount += 1
        for (request, count) in zip(requests, copied) {
            for page in 0..<(count / Int(Self.pageSize)) {
                let start = page * Int(Self.pageSize)
                let bytes = Array(UnsafeRawBufferPointer(rebasing: request.buffer[start..<start + Int(Self.pageSize)]))
                pages[request.address / Self.pageSize + UInt64(page)] = bytes
            }
        }
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

    private func page(_ number: UInt64) throws(MemoryReadError) -> [UInt8]? {
        if let cached = pages[number] { return cached }
        missCount += 1
        let bytes = try? base.readBytes(at: number * Self.pageSize, count: Int(Self.pageSize))
        pages[number] = .some(bytes)
        return bytes
    }
}
