// ProcessVMReader: reads a live process with process_vm_readv(2), one system call per request
// (or per batch, see `read(ranges:)`), falling back to /proc/PID/mem where the kernel refuses
// process_vm_readv (ENOSYS, or EPERM under some seccomp policies).

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import SystemPackage

/// Reads another process's memory with process_vm_readv.
public final class ProcessVMReader: MemoryReader {
    public let pid: Int32
    private var fallback: ProcMemReader?
    private var useFallback = false

    public init(pid: Int32) { self.pid = pid }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) throws(MemoryReadError) {
        if buffer.isEmpty { return }
        if useFallback { return try procMem().read(into: buffer, at: address) }
        var local = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        var remote = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(address)), iov_len: buffer.count)
        let got = ivk_process_vm_readv(pid, &local, 1, &remote, 1)
        if got == buffer.count { return }
        if got < 0 {
            let error = Errno(rawValue: errno)
            if error == .noFunction || error == .notPermitted {
                useFallback = true
                return try procMem().read(into: buffer, at: address)
            }
            throw MemoryReadError(address: address, count: buffer.count, reason: error.sentence)
        }
        throw MemoryReadError(address: address &+ UInt64(got), count: buffer.count,
                              reason: "only \(got) of \(buffer.count) bytes are mapped and readable")
    }

    /// The most iovecs one process_vm_readv takes (IOV_MAX); more is EINVAL.
    public static let maxRangesPerCall = 1024

    /// Copies several ranges with as few system calls as possible: IOV_MAX ranges a call, and a
    /// new call after a range that could not be read whole (process_vm_readv stops at the first
    /// unreadable byte). Each element of the result says how many bytes of that range were copied.
    public func read(ranges: [(address: UInt64, buffer: UnsafeMutableRawBufferPointer)]) -> [Int] {
        var copied = [Int](repeating: 0, count: ranges.count)
        var next = 0
        while next < ranges.count {
            let batch = ranges[next..<min(ranges.count, next + Self.maxRangesPerCall)]
            var locals = batch.map { iovec(iov_base: $0.buffer.baseAddress, iov_len: $0.buffer.count) }
            var remotes = batch.map {
                iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt($0.address)), iov_len: $0.buffer.count)
            }
            var total = max(0, ivk_process_vm_readv(pid, &locals, UInt(locals.count), &remotes, UInt(remotes.count)))
            var resume = batch.endIndex
            for index in batch.indices {
                copied[index] = min(total, ranges[index].buffer.count)
                total -= copied[index]
                // The first range not copied whole ended this call: go on after it.
                if copied[index] < ranges[index].buffer.count { resume = index + 1; break }
            }
            next = resume
        }
        return copied
    }

    private func procMem() throws(MemoryReadError) -> ProcMemReader {
        if let fallback { return fallback }
        do {
            let reader = try ProcMemReader(pid: pid)
            fallback = reader
            return reader
        } catch {
            throw MemoryReadError(address: 0, count: 0, reason: "/proc/\(pid)/mem: \(error.sentence)")
        }
    }
}

/// Reads another process's memory through /proc/PID/mem with pread(2).
public final class ProcMemReader: MemoryReader {
    public let pid: Int32
    private let fd: FileDescriptor

    public init(pid: Int32) throws(Errno) {
        self.pid = pid
        do {
            fd = try FileDescriptor.open(FilePath("/proc/\(pid)/mem"), .readOnly, options: .closeOnExec, retryOnInterrupt: true)
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    deinit { try? fd.close() }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) throws(MemoryReadError) {
        var done = 0
        while done < buffer.count {
            // The file offset is the address; one above 2^63 is a negative offset (EINVAL), as
            // no user-space address is.
            let offset = Int64(bitPattern: address &+ UInt64(done))
            let got: Int
            do {
                got = try fd.read(fromAbsoluteOffset: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]),
                                  retryOnInterrupt: true)
            } catch {
                let reason = (error as? Errno ?? .ioError).sentence
                throw MemoryReadError(address: address &+ UInt64(done), count: buffer.count, reason: reason)
            }
            if got == 0 {
                throw MemoryReadError(address: address &+ UInt64(done), count: buffer.count, reason: "end of address space")
            }
            done += got
        }
    }
}
