// The test harness itself: children start as a shell would start them. Tests run on libdispatch
// worker threads, which block SIGCHLD among others; gdb started with that mask waits for SIGCHLD
// forever (seen in CI: a test stuck for good in gdb's select).

#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

@Suite struct TestProcessTests {
    @Test func childrenStartWithNoSignalBlocked() throws {
        let directory = makeTemporaryDirectory()
        let grep = try TestProcess("/bin/grep", ["^SigBlk", "/proc/self/status"], outputPath: directory + "/out.txt")
        #expect(grep.waitForExit() == 0)
        #expect(readFile(directory + "/out.txt") == "SigBlk:\t0000000000000000\n")
    }
}
