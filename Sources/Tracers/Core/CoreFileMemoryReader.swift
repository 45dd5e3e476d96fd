// CoreFileMemoryReader: the memory of a dead process as its core file holds it, behind the same
// MemoryReader seam as a live process's: each PT_LOAD segment maps addresses to file offsets
// (libelf reads the program headers), and a read is a pread(2) of the core. Memory the core left
// out (a segment's p_memsz beyond its p_filesz: file-backed pages the kernel did not dump, such as
// string literals) is read from the module's own file, as libdwfl found it (dwfl_module_getelf,
// then the module's PT_LOAD segment through elf_getdata_rawchunk): pages nobody wrote to are the
// file's bytes. Anything else is unreadable, as unmapped memory is.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import TracerKit

/// Reads a process's memory from its core file.
public final class CoreFileMemoryReader: MemoryReader {
    private let descriptor: Int32
    private let segments: [CoreSegment]

    private let modules: ModuleIndex?
    /// The file ranges that hold the core's bytes, when only some do (a sparse copy of a piped
    /// core: its holes are memory that was not kept, not zeros); nil: all of them.
    private let present: [Range<UInt64>]?

    /// The reader of the core open on `descriptor` (not closed here), whose ELF handle is `elf`;
    /// `modules` (libdwfl's modules of the core) fill in the file pages the core left out.
    public init(descriptor: Int32, elf: OpaquePointer, modules: ModuleIndex?, present: [Range<UInt64>]? = nil) {
        self.descriptor = descriptor
        self.modules = modules
        self.present = present
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
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[done...])
            guard let segment = segments.first(where: { current >= $0.address && current - $0.address < $0.memorySize }) else {
                if let read = readFromModuleFile(into: rest, at: current) { done += read; continue }
                throw MemoryReadError(address: current, count: buffer.count, reason: "not mapped in the core")
            }
            let inSegment = current - segment.address
            guard inSegment < segment.fileSize else {
                if let read = readFromModuleFile(into: rest, at: current) { done += read; continue }
                throw MemoryReadError(address: current, count: buffer.count, reason: "not dumped in the core")
            }
            var take = Int(min(UInt64(buffer.count - done), segment.fileSize - inSegment))
            if let present {
                let offset = segment.fileOffset + inSegment
                guard let range = present.first(where: { $0.contains(offset) }) else {
                    throw MemoryReadError(address: current, count: buffer.count, reason: "not kept from the piped core")
                }
                take = min(take, Int(range.upperBound - offset))
            }
            let got = pread(descriptor, buffer.baseAddress! + done, take, off_t(segment.fileOffset + inSegment))
            guard got == take else {
                throw MemoryReadError(address: current, count: buffer.count,
                                      reason: got < 0 ? String(cString: strerror(errno)) : "the core file is shorter than its headers say")
            }
            done += take
        }
    }

    /// Copies what the file of the module at `address` holds there (as much of `buffer` as its
    /// segment covers); nil when no module's file has it.
    private func readFromModuleFile(into buffer: UnsafeMutableRawBufferPointer, at address: UInt64) -> Int? {
        guard let module = modules?.module(at: address) else { return nil }
        var bias: GElf_Addr = 0
        guard let elf = dwfl_module_getelf(module, &bias) else { return nil }
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { return nil }
        let fileAddress = address &- bias
        var fileSize = 0
        guard let file = elf_rawfile(elf, &fileSize) else { return nil }
        for index in 0..<count {
            var header = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(index), &header) != nil, header.p_type == UInt32(PT_LOAD) else { continue }
            // mmap maps whole pages of the file: the segment's last page holds the file's next bytes too.
            let mappedEnd = (header.p_vaddr &+ header.p_filesz &+ 4095) & ~4095
            guard fileAddress >= header.p_vaddr, fileAddress < mappedEnd else { continue }
            let take = Int(min(UInt64(buffer.count), mappedEnd - fileAddress))
            let fileOffset = Int(header.p_offset + (fileAddress - header.p_vaddr))
            let inFile = max(0, min(take, fileSize - fileOffset))
            if inFile > 0 { buffer.baseAddress!.copyMemory(from: UnsafeRawPointer(file) + fileOffset, byteCount: inFile) }
            if take > inFile { (buffer.baseAddress! + inFile).initializeMemory(as: UInt8.self, repeating: 0, count: take - inFile) }
            return take
        }
        return nil
    }
}
