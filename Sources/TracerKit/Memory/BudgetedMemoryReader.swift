// BudgetedMemoryReader: a decorator that stops reading once a byte budget or a deadline is spent.
// Tracers that follow data the target controls (variables, strings, arrays with corrupt bounds)
// read through it, so a corrupt or cyclic structure costs at most the budget, never a hang.

/// Passes reads to another reader until `limit` bytes have been read or `deadline` has passed;
/// after that every read fails with the reason "budget spent".
public final class BudgetedMemoryReader: MemoryReader {
    private let base: any MemoryReader
    /// Bytes this reader may still pass on.
    public let limit: Int
    public let deadline: Deadline
    /// Bytes read so far (successful reads only).
    public private(set) var bytesRead = 0
    /// Why reads are refused, once they are: "the 1048576-byte budget" or "the time budget".
    public private(set) var spentReason: String?

    public init(_ base: any MemoryReader, limit: Int, deadline: Deadline) {
        self.base = base; self.limit = limit; self.deadline = deadline
    }

    /// Whether the budget is spent (bytes or time); checked by loops that do more than read.
    public var isSpent: Bool {
        if spentReason == nil, deadline.hasExpired { spentReason = "the time budget" }
        return spentReason != nil
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) throws(MemoryReadError) {
        if !isSpent, bytesRead + buffer.count > limit { spentReason = "the \(limit)-byte budget" }
        if let spentReason {
            throw MemoryReadError(address: address, count: buffer.count, reason: "not read: \(spentReason) is spent")
        }
        try base.read(into: buffer, at: address)
        bytesRead += buffer.count
    }
}
