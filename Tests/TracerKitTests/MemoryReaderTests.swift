// Memory readers: the fake, the page cache in front of it, and process_vm_readv on a real process.

#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TracerKit

@Suite(.timeLimit(.minutes(1))) struct MemoryReaderTests {
    @Test func inMemoryReaderReadsAcrossRegionsAndFailsOutside() throws {
        let memory = InMemoryReader()
        memory.map([1, 2, 3, 4], at: 0x1000)
        memory.map([5, 6], at: 0x1004)
        #expect(try memory.readBytes(at: 0x1002, count: 4) == [3, 4, 5, 6])
        #expect(throws: MemoryReadError.self) { try memory.readBytes(at: 0x1005, count: 2) }
    }

    @Test func cachingReaderReadsEachPageOnceAndRemembersHoles() throws {
        let memory = InMemoryReader()
        memory.map([UInt8](repeating: 7, count: 8192), at: 0x10000)
        let cache = CachingMemoryReader(memory)
        for offset in stride(from: 0, to: 8192, by: 8) {
            #expect(try cache.read(UInt64.self, at: 0x10000 + UInt64(offset)) == 0x0707070707070707)
        }
        #expect(cache.missCount == 2)
        #expect(throws: MemoryReadError.self) { try cache.read(UInt64.self, at: 0x20000) }
        #expect(throws: MemoryReadError.self) { try cache.read(UInt64.self, at: 0x20008) }
        #expect(cache.missCount == 3)
        // A read straddling a readable and an unreadable page fails and names the first bad address.
        do {
            _ = try cache.readBytes(at: 0x11ffc, count: 8)
            Issue.record("read across the end of the mapping succeeded")
        } catch {
            #expect(error.address == 0x12000)
        }
    }

    @Test func cStringsStopAtNulOrLimit() {
        let memory = InMemoryReader()
        memory.map(Array("hello\0world".utf8), at: 0x5000)
        #expect(memory.readCString(at: 0x5000) == "hello")
        #expect(memory.readCString(at: 0x5006, limit: 3) == "wor")
        #expect(memory.readCString(at: 0x9000) == nil)
    }

    @Test func processVMReaderReadsALiveProcess() throws {
        // Our own process is a live target: read a known buffer through process_vm_readv.
        let marker: [UInt8] = Array("invoker-marker-1234".utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: marker.count, alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: marker)
        let address = UInt64(UInt(bitPattern: buffer.baseAddress))
        let reader = ProcessVMReader(pid: getpid())
        #expect(try reader.readBytes(at: address, count: marker.count) == marker)
        let cached = CachingMemoryReader(reader)
        cached.prefetch([address...(address + UInt64(marker.count) - 1)])
        let misses = cached.missCount
        #expect(try cached.readBytes(at: address, count: marker.count) == marker)
        #expect(cached.missCount == misses)
        #expect(throws: MemoryReadError.self) { try ProcessVMReader(pid: getpid()).readBytes(at: 8, count: 8) }
    }

    /// The fallback where process_vm_readv is refused: /proc/PID/mem with pread. A read across
    /// the end of a mapping names the first unreadable address; an address above 2^63 (a negative
    /// file offset) is an error, not a trap.
    @Test func procMemReaderReadsALiveProcessAndStopsAtAHole() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapping = try #require(mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(mapping, page) }
        // (/proc/PID/mem reads PROT_NONE pages: a hole is an unmapped page.)
        #expect(munmap(mapping + page, page) == 0)
        let marker: [UInt8] = Array("proc-mem-marker".utf8)
        let start = UInt64(UInt(bitPattern: mapping)) + UInt64(page - marker.count)
        UnsafeMutableRawBufferPointer(start: mapping + page - marker.count, count: marker.count).copyBytes(from: marker)
        let reader = try ProcMemReader(pid: getpid())
        #expect(try reader.readBytes(at: start, count: marker.count) == marker)
        do {
            _ = try reader.readBytes(at: start, count: marker.count + 8)
            Issue.record("a read into the unmapped page succeeded")
        } catch {
            #expect(error.address == start + UInt64(marker.count))
        }
        #expect(throws: MemoryReadError.self) { try reader.readBytes(at: 0xffff_ffff_ffff_f000, count: 8) }
        do {
            _ = try ProcMemReader(pid: Int32.max)
            Issue.record("opened the memory of a process that does not exist")
        } catch {
            #expect(error.rawValue == ENOENT)
        }
    }

    @Test func mapsParseAndLookUp() {
        let maps = MemoryMapping.parse("""
        55d0c0a00000-55d0c0a21000 r-xp 00000000 fd:01 1234   /usr/bin/thing
        7ffc00001000-7ffc00003000 rw-p 00000000 00:00 0            [stack]
        7ffd00000000-7ffd00001000 r--p 00000000 00:00 0
        """)
        #expect(maps.count == 3)
        #expect(maps[0].path == "/usr/bin/thing" && maps[0].isExecutable && !maps[0].isWritable)
        #expect(maps.mapping(containing: 0x7ffc00002000)?.path == "[stack]")
        #expect(maps.mapping(containing: 0x7ffd00000000)?.path == "")
        #expect(maps.mapping(containing: 0x1000) == nil)
    }

    /// More ranges than one process_vm_readv takes (IOV_MAX, 1024: one stack per thread of a
    /// server with more threads) are all copied, and an unreadable range in the middle costs only
    /// itself.
    @Test func batchedReadCopiesMoreRangesThanIOVMaxAndSkipsAHole() {
        let count = 1500
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: count * 16, alignment: 16)
        defer { source.deallocate() }
        for index in 0..<count * 16 { source[index] = UInt8(truncatingIfNeeded: index / 16) }
        let base = UInt64(UInt(bitPattern: source.baseAddress!))
        var ranges: [(address: UInt64, buffer: UnsafeMutableRawBufferPointer)] = (0..<count).map { index in
            (base + UInt64(index * 16), .allocate(byteCount: 16, alignment: 16))
        }
        defer { ranges.forEach { $0.buffer.deallocate() } }
        ranges[1100].address = 8  // nothing is mapped there
        let copied = ProcessVMReader(pid: getpid()).read(ranges: ranges)
        #expect(copied[1100] == 0)
        #expect(copied.enumerated().allSatisfy { $0.offset == 1100 || $0.element == 16 })
        #expect(ranges[1499].buffer[0] == UInt8(truncatingIfNeeded: 1499))
    }

    /// The up-front copy stops at its limit, in the order the ranges are given.
    @Test func prefetchStopsAtItsLimit() {
        let count = 8
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: count * 8192, alignment: 4096)
        defer { source.deallocate() }
        let base = UInt64(UInt(bitPattern: source.baseAddress!))
        let ranges: [ClosedRange<UInt64>] = (0..<count).map { (index: Int) -> ClosedRange<UInt64> in
            let start: UInt64 = base + UInt64(index) * 8192
            return start...(start + 8191)
        }
        let cached = CachingMemoryReader(ProcessVMReader(pid: getpid()))
        #expect(CachingMemoryReader.bytesToCopy(ranges) == count * 8192)
        #expect(cached.prefetch(ranges, limit: 3 * 8192 + 100) == 3 * 8192)
    }
}
