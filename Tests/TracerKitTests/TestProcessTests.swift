// The test harness itself: children start as a shell would start them. Tests run on libdispatch
// worker threads, which block SIGCHLD among others; gdb started with that mask waits for SIGCHLD
// forever (seen in CI: a test stuck for good in gdb's select). And a hang ends the test instead of
// the whole run: waiting for a child is bounded.

#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

@Suite(.timeLimit(.minutes(1))) struct TestProcessTests {
    @Test func childrenStartWithNoSignalBlocked() throws {
        let directory = makeTemporaryDirectory()
        let grep = try TestProcess("/bin/grep", ["^SigBlk", "/proc/self/status"], outputPath: directory + "/out.txt")
        #expect(grep.waitForExit() == 0)
        #expect(readFile(directory + "/out.txt") == "SigBlk:\t0000000000000000\n")
    }

    @Test func aChildThatDoesNotExitIsKilledAtTheWaitsLimit() throws {
        let child = try TestProcess("/bin/sleep", ["60"])
        let status = child.waitForExit(seconds: 0.2)
        #expect(status & 0x7f == SIGKILL, "the hung child is killed, so the test fails instead of stalling")
    }
}
