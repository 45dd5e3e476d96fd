// CoreSpool: the core the kernel pipes to `invoker core` (kernel.core_pattern = |invoker core …),
// copied to a temporary file in fixed-size chunks so memory stays bounded whatever the core's
// size, up to a cap on disk; past the cap the rest is read and dropped, so the kernel is never
// left blocked on the pipe. The notes and the first segments come first in a core, so a capped
// core still has every thread's registers and the signal.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

struct CoreSpool {
    /// The temporary copy; the caller removes it.
    var path: String
    /// Bytes read from the pipe, and bytes kept in the copy.
    var bytesRead: UInt64
    var bytesKept: UInt64
    var isTruncated: Bool { bytesKept < bytesRead }

    /// Why the core could not be spooled.
    enum Failure: Error, CustomStringConvertible {
        case cannotCreate(path: String, errno: Errno)
        case cannotRead(errno: Errno, afterBytes: UInt64)

        var description: String {
            switch self {
            case .cannotCreate(let path, let errno): "Cannot create the temporary core file \(path): \(errno)."
            case .cannotRead(let errno, let bytes): "Cannot read the core from standard input after \(bytes) bytes: \(errno)."
            }
        }
    }

    /// Reading (and writing) unit: the only buffer the spool holds.
    static let chunkSize = 1 << 20

    /// Copies `input` to a new file in `directory` named after `pid`, keeping at most `limit` bytes.
    static func spool(from input: FileDescriptor, directory: String, pid: Int32, limit: UInt64) throws(Failure) -> CoreSpool {
        let path = directory + "/.invoker-core-\(pid)-\(getpid()).tmp"
        let output: FileDescriptor
        do {
            output = try FileDescriptor.open(path, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
                                             permissions: [.ownerReadWrite])
        } catch {
            throw .cannotCreate(path: path, errno: error as? Errno ?? .ioError)
        }
        defer { try? output.close() }
        var spool = CoreSpool(path: path, bytesRead: 0, bytesKept: 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var writable = true
        while true {
            let count: Int
            do {
                count = try input.read(into: buffer, retryOnInterrupt: true)
            } catch {
                throw .cannotRead(errno: error as? Errno ?? .ioError, afterBytes: spool.bytesRead)
            }
            if count == 0 { break }
            spool.bytesRead += UInt64(count)
            let keep = Int(min(UInt64(count), limit - spool.bytesKept))
            // A full disk only shortens the copy (no gaps: writing stops): the pipe is still drained.
            if keep > 0, writable {
                if (try? output.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<keep]))) != nil {
                    spool.bytesKept += UInt64(keep)
                } else {
                    writable = false
                }
            }
        }
        return spool
    }
}
