// MemoryReader: the seam between the target's address space and everything that reads it.
// One primitive (read N bytes at an address); process_vm_readv, /proc/PID/mem, an in-memory fake
// and a caching decorator sit behind it. Unwinders and symbolizers never call ptrace.

/// A failed read of target memory.
public struct MemoryReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first address that could not be read.
    public var address: UInt64
    /// How many bytes were asked for.
    public var count: Int
    /// Why, as the operating system said it (errno name), or a short reason.
    public var reason: String

    public init(address: UInt64, count: Int, reason: String) {
        self.address = address; self.count = count; self.reason = reason
    }

    public var description: String {
        "cannot read \(count) bytes of target memory at \(address.hex): \(reason)"
    }
}

/// Reads the memory of one target process.
///
/// Contract: `read(into:at:)` fills the whole buffer with the bytes at `address`, or throws a
/// `MemoryReadError` naming the first address it could not read; it never returns partial data.
/// Callers treat a failed read as the end of what can be known (an unwinder ends the stack there),
/// never as a reason to stop the crash run. Implementations are used from one thread at a time.
public protocol MemoryReader: AnyObject {
    func read(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) throws(MemoryReadError)
}

extension MemoryReader {
    /// Reads a fixed-width integer (little-endian, as the target is x86_64).
    public func read<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) throws(MemoryReadError) -> T {
        var value: T = 0
        let failure: MemoryReadError? = withUnsafeMutableBytes(of: &value) { buffer in
            do throws(MemoryReadError) { try read(into: buffer, at: address); return nil } catch { return error }
        }
        if let failure { throw failure }
        return T(littleEndian: value)
    }

    /// Reads `count` bytes.
    public func readBytes(at address: UInt64, count: Int) throws(MemoryReadError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let failure: MemoryReadError? = bytes.withUnsafeMutableBytes { buffer in
            do throws(MemoryReadError) { try read(into: buffer, at: address); return nil } catch { return error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Reads a NUL-terminated string of at most `limit` bytes; nil if its first byte is unreadable.
    /// A string longer than `limit` is cut at `limit`.
    public func readCString(at address: UInt64, limit: Int = 256) -> String? {
        readCStringBytes(at: address, limit: limit).map { String(decoding: $0.bytes, as: UTF8.self) }
    }

    /// The bytes of a NUL-terminated string (without the NUL), at most `limit` of them, and whether
    /// its end was found (false: cut at `limit`, or unreadable memory came first). Nil if its first
    /// byte is unreadable.
    public func readCStringBytes(at address: UInt64, limit: Int) -> (bytes: [UInt8], terminated: Bool)? {
        var result: [UInt8] = []
        var cursor = address
        while result.count < limit {
            // Read up to the end of the page; near unmapped memory, fall back to smaller reads.
            let toPageEnd = Int(4096 - (cursor & 4095))
            let want = min(toPageEnd, limit - result.count)
            guard let chunk = [want, min(want, 64), 1].lazy.compactMap({ try? self.readBytes(at: cursor, count: $0) }).first
            else { break }
            if let nul = chunk.firstIndex(of: 0) {
                result.append(contentsOf: chunk[..<nul])
                return (result, true)
            }
            result.append(contentsOf: chunk)
            cursor &+= UInt64(chunk.count)
        }
        return result.isEmpty && cursor == address ? nil : (result, false)
    }
}
