// CoreStream: an ELF core read once, front to back, from a descriptor that cannot seek (the pipe
// of kernel.core_pattern = |invoker core …). The kernel writes the ELF header, the program
// headers and the notes first, then the memory segments in program-header order, so the head is
// read first and whole (libelf reads it from memory: elf_memory), and the rest is handed out in
// fixed-size chunks with their file offsets: memory stays bounded whatever the core's size.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import SystemPackage
import TracerKit

/// One PT_LOAD segment of a core: where its bytes sit in the file and in the process.
public struct CoreSegment: Sendable, Equatable {
    public var address: UInt64
    public var fileOffset: UInt64
    /// Bytes of the segment in the file (0 for memory the core left out).
    public var fileSize: UInt64
    public var memorySize: UInt64

    /// The file offsets of the addresses `range` of this segment's file part, clipped to it.
    public func fileRange(of range: Range<UInt64>) -> Range<UInt64>? {
        let low = max(range.lowerBound, address), high = min(range.upperBound, address &+ fileSize)
        guard high > low else { return nil }
        return fileOffset + (low - address)..<fileOffset + (high - address)
    }
}

/// Why a piped core could not be read.
public enum CoreStreamError: Error, CustomStringConvertible, Equatable {
    case cannotRead(errno: Errno, afterBytes: UInt64)
    case notACore(reason: String)
    case headTooLarge(bytes: UInt64, limit: Int)

    public var description: String {
        switch self {
        case .cannotRead(let errno, let bytes): "Cannot read the core from standard input after \(bytes) bytes: \(errno)."
        case .notACore(let reason): "Standard input is not an ELF core: \(reason)."
        case .headTooLarge(let bytes, let limit):
            "The piped core's headers and notes take \(bytes) bytes, more than the \(limit) this reader holds in memory."
        }
    }
}

/// A core on a descriptor, its head read and understood, the rest still to come.
public final class CoreStream {
    /// The ELF header, program headers and notes (file offsets 0..<head.count); valid while
    /// the stream exists.
    public var head: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: buffer.base, count: buffer.count) }
    private let buffer: HeadBuffer
    public let notes: CoreNotes
    /// The PT_LOAD segments, in file order.
    public let segments: [CoreSegment]
    /// Bytes read from the descriptor so far.
    public private(set) var bytesRead: UInt64
    private let input: FileDescriptor

    /// The reading unit of `drain`: the only buffer it holds.
    public static let chunkSize = 1 << 20
    /// The most bytes of headers and notes held (a process with many threads and mappings has a
    /// few MiB of notes; NT_FILE names every mapped file).
    public static let headLimit = 64 << 20

    /// Reads the head of the core on `input`: the ELF header, then the program headers it
    /// places, then the notes they place.
    public init(input: FileDescriptor) throws(CoreStreamError) {
        self.input = input
        let buffer = HeadBuffer()
        self.buffer = buffer
        var read: UInt64 = 0
        func fill(to size: UInt64) throws(CoreStreamError) {
            guard size <= UInt64(Self.headLimit) else { throw .headTooLarge(bytes: size, limit: Self.headLimit) }
            buffer.reserve(Int(size))
            while buffer.count < Int(size) {
                let target = UnsafeMutableRawBufferPointer(start: buffer.base + buffer.count, count: Int(size) - buffer.count)
                let count: Int
                do { count = try input.read(into: target, retryOnInterrupt: true) } catch {
                    throw .cannotRead(errno: error as? Errno ?? .ioError, afterBytes: read)
                }
                if count == 0 { throw .notACore(reason: "it ends after \(read) bytes, inside its headers") }
                buffer.count += count
                read += UInt64(count)
            }
        }
        _ = elf_version(UInt32(EV_CURRENT))
        try fill(to: UInt64(MemoryLayout<Elf64_Ehdr>.size))
        let header = try Self.withElf(buffer) { elf throws(CoreStreamError) -> GElf_Ehdr in
            var header = GElf_Ehdr()
            guard gelf_getehdr(elf, &header) != nil, header.e_type == UInt16(ET_CORE) else {
                throw .notACore(reason: "its ELF type is not ET_CORE")
            }
            // PN_XNUM: the real count sits in a section header the kernel writes after the segments.
            guard header.e_phnum != 0xffff else { throw .notACore(reason: "it has more than 65534 segments") }
            return header
        }
        try fill(to: header.e_phoff + UInt64(header.e_phnum) * UInt64(header.e_phentsize))
        let loads = try Self.withElf(buffer) { elf throws(CoreStreamError) -> [GElf_Phdr] in
            (0..<Int32(header.e_phnum)).compactMap { index in
                var entry = GElf_Phdr()
                return gelf_getphdr(elf, index, &entry) != nil ? entry : nil
            }
        }
        let noteEnd = loads.filter { $0.p_type == UInt32(PT_NOTE) }.map { $0.p_offset + $0.p_filesz }.max() ?? 0
        try fill(to: max(UInt64(buffer.count), noteEnd))
        notes = try Self.withElf(buffer) { elf throws(CoreStreamError) in CoreNotes(elf: elf) }
        segments = loads.filter { $0.p_type == UInt32(PT_LOAD) }
            .map { CoreSegment(address: $0.p_vaddr, fileOffset: $0.p_offset, fileSize: $0.p_filesz, memorySize: $0.p_memsz) }
            .sorted { $0.fileOffset < $1.fileOffset }
        bytesRead = read
    }

    /// Reads the rest of the core to its end, handing each chunk to `body` with its file offset.
    /// The chunk is valid only during the call.
    public func drain(_ body: (_ offset: UInt64, _ bytes: UnsafeRawBufferPointer) -> Void) throws(CoreStreamError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count: Int
            do { count = try input.read(into: buffer, retryOnInterrupt: true) } catch {
                throw .cannotRead(errno: error as? Errno ?? .ioError, afterBytes: bytesRead)
            }
            if count == 0 { return }
            body(bytesRead, UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            bytesRead += UInt64(count)
        }
    }

    /// The segment whose memory holds `address`.
    public func segment(containing address: UInt64) -> CoreSegment? {
        segments.first { address >= $0.address && address - $0.address < $0.memorySize }
    }

    /// Runs `body` on a libelf handle over the bytes read so far.
    private static func withElf<T>(_ buffer: HeadBuffer, _ body: (OpaquePointer) throws(CoreStreamError) -> T) throws(CoreStreamError) -> T {
        guard let elf = elf_memory(buffer.base.assumingMemoryBound(to: CChar.self), buffer.count) else {
            throw .notACore(reason: String(cString: elf_errmsg(-1)))
        }
        defer { elf_end(elf) }
        return try body(elf)
    }

    /// The growing head: one allocation, grown by reallocation (libelf reads it in place).
    private final class HeadBuffer {
        var base = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        var capacity = 4096
        var count = 0

        deinit { base.deallocate() }

        func reserve(_ size: Int) {
            guard size > capacity else { return }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            grown.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = grown
            capacity = size
        }
    }
}
