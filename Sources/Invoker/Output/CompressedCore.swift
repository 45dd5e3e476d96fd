// CompressedCore: the piped core kept beside the report (keep_core = true), gzip-compressed as it
// streams past with zlib's deflate, one chunk at a time, up to keep_core_limit bytes of core; past
// the cap the rest is dropped and the report says so. `zcat crash-….core.gz > core` gives back the
// core (or its first keep_core_limit bytes) for gdb or eu-stack. Mode 0600: a core holds secrets.

#if canImport(Glibc)
import Glibc
#endif
import CZlib
import SystemPackage

final class CompressedCore {
    let path: String
    /// Bytes of core taken in, and bytes written to the file.
    private(set) var bytesIn: UInt64 = 0
    private(set) var bytesOut: UInt64 = 0
    /// Why the file is incomplete or missing, as a sentence; nil while all is well.
    private(set) var problem: String?
    private let limit: UInt64
    private let output: FileDescriptor
    /// zlib's stream keeps a pointer to itself: it needs an address that never moves.
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
    private var open = true

    /// Creates `name` in `directory` (never over an existing file, never through a link).
    init?(directory: String, name: String, limit: UInt64) {
        path = directory + "/" + name
        self.limit = limit
        guard let descriptor = try? FileDescriptor.open(path, .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                                                        permissions: [.ownerReadWrite]) else {
            buffer.deallocate()
            stream.deallocate()
            return nil
        }
        output = descriptor
        stream.initialize(to: z_stream())
        // Level 1: a core is mostly zero pages and repeats, and it streams past while the kernel waits.
        guard ivk_deflate_init_gzip(stream, 1) == Z_OK else {
            try? output.close()
            unlink(path)
            buffer.deallocate()
            stream.deallocate()
            return nil
        }
    }

    deinit {
        if open { deflateEnd(stream); try? output.close() }
        buffer.deallocate()
        stream.deallocate()
    }

    /// Compresses the next bytes of the core, as far as the limit allows.
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard open, problem == nil, bytesIn < limit else { return }
        let take = Int(min(UInt64(bytes.count), limit - bytesIn))
        bytesIn += UInt64(take)
        deflate(UnsafeRawBufferPointer(rebasing: bytes[..<take]), flush: Z_NO_FLUSH)
    }

    /// Ends the gzip stream and closes the file; `total` is the core's whole size.
    func finish(total: UInt64) {
        guard open else { return }
        deflate(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
        deflateEnd(stream)
        try? output.close()
        open = false
        if problem == nil, bytesIn < total {
            problem = "The core kept in \(path) holds its first \(bytesIn) of \(total) bytes (keep_core_limit)."
        }
    }

    private func deflate(_ input: UnsafeRawBufferPointer, flush: Int32) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = uInt(input.count)
        repeat {
            stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = uInt(buffer.count)
            let status = CZlib.deflate(stream, flush)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                problem = "Compressing the core into \(path) failed (zlib status \(status)); the file is incomplete."
                return
            }
            let produced = buffer.count - Int(stream.pointee.avail_out)
            if produced > 0 {
                do {
                    _ = try output.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<produced]))
                    bytesOut += UInt64(produced)
                } catch {
                    problem = "Writing the kept core \(path) failed after \(bytesOut) bytes: \(error); the file is incomplete."
                    return
                }
            }
        } while stream.pointee.avail_out == 0 || (flush == Z_FINISH && stream.pointee.avail_in > 0)
    }
}
