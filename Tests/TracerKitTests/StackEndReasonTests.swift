// Why a stack ended early, judged from the memory map: JIT code, a library deleted or replaced on
// disk since it was loaded, a pc outside executable memory; and no reason for a frame in an
// intact module (the walk reached the outermost frame).

#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TracerKit
@testable import Tracers

@Suite(.timeLimit(.minutes(1))) struct StackEndReasonTests {
    static func unwinder(_ maps: String) -> RemoteUnwinder {
        let snapshot = InMemoryProcessSnapshot(pid: getpid(), executable: "/bin/sh", commandLine: [],
                                               mappings: MemoryMapping.parse(maps))
        return RemoteUnwinder(snapshot: snapshot)
    }

    @Test func eachKindOfEarlyEndSaysWhy() throws {
        var info = stat()
        #expect(stat("/bin/sh", &info) == 0)
        let unwinder = Self.unwinder("""
        0000000000400000-0000000000401000 r-xp 00000000 fd:01 \(info.st_ino) /bin/sh
        0000000000500000-0000000000501000 r-xp 00000000 fd:01 \(info.st_ino &+ 1) /bin/sh
        0000000000600000-0000000000601000 r-xp 00000000 fd:01 77 /usr/lib/libgone.so (deleted)
        0000000000700000-0000000000701000 rwxp 00000000 00:00 0
        0000000000800000-0000000000801000 rw-p 00000000 00:00 0 [heap]
        """)
        #expect(unwinder.whyCodeEndsTheStack(at: 0x400010) == nil)
        #expect(unwinder.whyCodeEndsTheStack(at: 0x500010)?.contains("/bin/sh, which was replaced on disk after it was loaded") == true)
        #expect(unwinder.whyCodeEndsTheStack(at: 0x600010)?.contains("/usr/lib/libgone.so, which was deleted or replaced on disk") == true)
        #expect(unwinder.whyCodeEndsTheStack(at: 0x700010)?.contains("anonymous executable mapping 0x700000-0x701000") == true)
        #expect(unwinder.whyCodeEndsTheStack(at: 0x800010)?.contains("non-executable memory ([heap])") == true)
        #expect(unwinder.whyCodeEndsTheStack(at: 0x10)?.contains("in no mapping of the process") == true)
    }
}
