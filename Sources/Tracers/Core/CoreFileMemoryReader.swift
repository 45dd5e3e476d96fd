// CoreFileMemoryReader: the memory of a dead process as its core file holds it, behind the same
// MemoryReader seam as a live process's: each PT_LOAD segment maps addresses to file offsets
// (libelf reads the program headers), and a read is a pread(2) of the core. Memory the core left
// out (a segment's p_memsz beyond its p_filesz: file-backed pages the kernel did not dump) is
// unreadable, as unmapped memory is.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

/// Reads a process's memory from its core file.
public final class CoreFileMemoryReader: MemoryReader {
    private let descriptor: Int32
    private let segments: [CoreSegment]

    /// The reader of the core open on `descriptor` (not closed here), whose ELF handle is `elf`.
    public init(descriptor: Int32, elf: OpaquePointer) {
        self.descriptor = descriptor
        var count = 0
        var found: [CoreSegment] = []
        if elf_getphdrnum(elf, &count) == 0 {
            for index in 0..<count {
                var header = GElf_Phdr()
                guard gelf_getphdr(elf, Int32(index), &header) != nil, header.p_type == UInt32(PT_LOAD) else { continue }
                found.append(CoreSegment(address: header.p_vaddr, fileOffset: header.p_offset, fileSize: header.p_filesz,
                                         memorySize: header.p_memsz))
            }
        }
        segments = found
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) throws(MemoryReadError) {
        var done = 0
        while done < buffer.count {
            let current = address &+ UInt64(done)
            guard let segment = segments.first(where: { current >= $0.address && current - $0.address < $0.memorySize }) else {
                throw MemoryReadError(address: current, count: buffer.count, reason: "not mapped in the core")
            }
            let inSegment = current - segment.address
            guard inSegment < segment.fileSize else {
                throw MemoryReadError(address: current, count: buffer.count, reason: "not dumped in the core")
            }
            let take = Int(min(UInt64(buffer.count - done), segment.fileSize - inSegment))
            let got = pread(descriptor, buffer.baseAddress! + done, take, off_t(segment.fileOffset + inSegment))
            guard got == take else {
                throw MemoryReadError(address: current, count: buffer.count,
                                      reason: got < 0 ? String(cString: strerror(errno)) : "the core file is shorter than its headers say")
            }
            done += take
        }
    }
}
