// InMemoryReader: a MemoryReader over byte arrays placed at addresses, for unit tests of the
// layers above memory (unwinding, value formatting) without a live process.

/// An address space made of byte regions; every other address is unreadable.
public final class InMemoryReader: MemoryReader {
    private var regions: [(start: UInt64, bytes: [UInt8])] = []

    public init() {}

    /// Places `bytes` at `address`.
    public func map(_ bytes: [UInt8], at address: UInt64) {
        regions.append((address, bytes))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) throws(MemoryReadError) {
        var done = 0
        while done < buffer.count {
            let current = address &+ UInt64(done)
            guard let region = regions.first(where: { current >= $0.start && current - $0.start < UInt64($0.bytes.count) }) else {
                throw MemoryReadError(address: current, count: buffer.count, reason: "not mapped")
            }
            let offset = Int(current - region.start)
            let take = min(buffer.count - done, region.bytes.count - offset)
            region.bytes.withUnsafeBytes { bytes in
                buffer.baseAddress!.advanced(by: done).copyMemory(from: bytes.baseAddress! + offset, byteCount: take)
            }
            done += take
        }
    }
}
