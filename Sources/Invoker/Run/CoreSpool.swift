// CoreSpool: the fallback for a piped core whose process is gone (no /proc/%P to read): a sparse
// temporary copy of the core holding only what unwinding needs — the head (headers and notes),
// each thread's stack from its stack pointer up (a window per thread, capped in all), and the
// small segments (the ELF header pages that name the modules, the vDSO) — at their own offsets,
// every other byte a hole. libdwfl then reads it as any core file (CoreFileReader). Disk use is
// bounded by those windows, memory by one chunk, whatever the core's size.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import Tracers

final class CoreSpool {
    /// The temporary copy; the caller removes it.
    let path: String
    /// File ranges of the core copied into the spool (the head excepted).
    let ranges: [Range<UInt64>]
    /// Bytes written into the spool (head included): its disk use.
    private(set) var bytesKept: UInt64 = 0
    private let output: FileDescriptor
    private var writable = true

    /// Why the core could not be spooled.
    enum Failure: Error, CustomStringConvertible {
        case cannotCreate(path: String, errno: Errno)

        var description: String {
            switch self {
            case .cannotCreate(let path, let errno): "Cannot create the temporary core file \(path): \(errno)."
            }
        }
    }

    /// Bytes of each thread's stack kept above its stack pointer.
    static let stackWindow: UInt64 = 8 << 20
    /// Segments up to this size are kept whole: the first page of each mapped ELF file (the
    /// kernel dumps it so its build-id can be found) and the vDSO.
    static let smallSegment: UInt64 = 16 << 10

    /// Creates the spool in `directory` for the core `stream` (named after `pid`), with its head
    /// written; `stackLimit` caps the bytes of stacks it will keep.
    init(for stream: CoreStream, directory: String, pid: Int32, stackLimit: Int) throws(Failure) {
        path = directory + "/.invoker-core-\(pid)-\(getpid()).tmp"
        do {
            output = try FileDescriptor.open(path, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec, .noFollow],
                                             permissions: [.ownerReadWrite])
        } catch {
            throw .cannotCreate(path: path, errno: error as? Errno ?? .ioError)
        }
        ranges = Self.rangesToKeep(stream, stackLimit: UInt64(max(0, stackLimit)))
        write(stream.head, at: 0)
    }

    deinit { try? output.close() }

    /// The file ranges worth keeping: each thread's stack window (the crashing thread's first,
    /// while `stackLimit` lasts) and every small segment, sorted and merged.
    static func rangesToKeep(_ stream: CoreStream, stackLimit: UInt64) -> [Range<UInt64>] {
        var wanted: [Range<UInt64>] = []
        var budget = stackLimit
        for thread in stream.notes.threads {
            let sp = thread.registers.rsp
            // Whole pages (readers cache memory a page at a time), from just below sp (the red zone) up.
            guard budget > 0, sp > 128, let segment = stream.segment(containing: sp),
                  let range = segment.fileRange(of: ((sp - 128) & ~4095)..<((sp &+ min(stackWindow, budget) &+ 4095) & ~4095))
            else { continue }
            wanted.append(range)
            budget -= min(budget, UInt64(range.count))
        }
        wanted += stream.segments.filter { $0.fileSize > 0 && $0.fileSize <= smallSegment }
            .map { $0.fileOffset..<$0.fileOffset + $0.fileSize }
        var merged: [Range<UInt64>] = []
        for range in wanted.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// Copies what `ranges` wants of the chunk at file offset `offset`.
    func consume(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) {
        let chunk = offset..<offset + UInt64(bytes.count)
        for range in ranges where range.overlaps(chunk) {
            let low = max(range.lowerBound, chunk.lowerBound), high = min(range.upperBound, chunk.upperBound)
            write(UnsafeRawBufferPointer(rebasing: bytes[Int(low - offset)..<Int(high - offset)]), at: low)
        }
    }

    /// Gives the spool the core's full length (the rest reads as holes).
    func finish(size: UInt64) {
        _ = try? output.resize(to: Int64(size), retryOnInterrupt: true)
    }

    /// A full disk only loses what follows: the pipe is drained all the same.
    private func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) {
        guard writable else { return }
        if (try? output.writeAll(toAbsoluteOffset: Int64(offset), bytes)) != nil {
            bytesKept += UInt64(bytes.count)
        } else {
            writable = false
        }
    }
}
