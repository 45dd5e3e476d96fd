// What the capture's speed-ups must not change: a stack walked without frame registers has the
// same frames as one walked with them; register values hold exactly what was set; sigprocmask,
// which the unwinder's C shim replaces so libunwind's cache lock costs no system calls, still
// changes the mask for everyone else; /proc/PID/maps parses as bytes the way it reads; thread
// names read through one directory descriptor are the names; a prefetched stack reads back whole
// from the buffers it was copied into, where two copied ranges overlap too; stacks unwound on two
// threads (UnwindShare) are the stacks unwound on one.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
@testable import TracerKit
@testable import Tracers

@Suite(.timeLimit(.minutes(1)), .serialized, .enabled(if: ptraceUnavailableReason() == nil, "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct CaptureCostTests {
    @Test func framesAreTheSameWithoutTheirRegisters() throws {
        let child = try TestProcess("/bin/sleep", ["30"])
        defer { child.finish() }
        #expect(child.waitUntilSleeping())
        var stacks: [[RawFrame]] = []
        var reasons: [String?] = []
        do {
            let session = try PtraceSession.attach(pid: child.pid, deadline: .after(seconds: 5))
            let snapshot = LiveProcessSnapshot.capture(session: session, fault: nil)
            let start = try #require(snapshot.threads.first?.registers)
            for records in [true, false] {
                let unwinder = RemoteUnwinder(snapshot: snapshot, recordsRegisters: records)
                let stack = unwinder.unwind(from: start, startRecovery: .stopped, deadline: .after(seconds: 5))
                stacks.append(stack.frames)
                reasons.append(stack.stopReason)
            }
            session.detach()
        }
        let (full, bare) = (stacks[0], stacks[1])
        // sleep → clock_nanosleep, __libc_start_call_main, __libc_start_main, _start at least.
        #expect(full.count >= 3, "\(reasons)")
        #expect(reasons[0] == reasons[1])
        #expect(full.map(\.pc) == bare.map(\.pc))
        #expect(full.map(\.stackPointer) == bare.map(\.stackPointer))
        #expect(full.map(\.recovery) == bare.map(\.recovery))
        #expect(full.first?.registers.values.count == 17)
        #expect(full.dropFirst().allSatisfy { $0.registers.values[16] == $0.pc })
        #expect(bare.allSatisfy { $0.registers.values.count == 0 })
        child.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func registerValuesHoldWhatWasSetAndNothingElse() {
        var values: RegisterValues = [7: 0x7000, 17: 42]
        #expect(values[7] == 0x7000 && values[17] == 42 && values[6] == nil && values.count == 2)
        values[40] = 1
        #expect(values[40] == nil && values.count == 2)
        values[7] = nil
        #expect(values[7] == nil && values.count == 1)
        #expect(values == [17: 42])
        #expect(values != [17: 43])
        #expect(RegisterValues() == [:])
    }

    @Test func sigprocmaskStillMasksOutsideAWalk() {
        var block = sigset_t(), old = sigset_t(), now = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGUSR2)
        #expect(sigprocmask(SIG_BLOCK, &block, &old) == 0)
        #expect(pthread_sigmask(SIG_SETMASK, nil, &now) == 0)
        #expect(sigismember(&now, SIGUSR2) == 1)
        #expect(sigprocmask(SIG_SETMASK, &old, nil) == 0)
        #expect(pthread_sigmask(SIG_SETMASK, nil, &now) == 0)
        #expect(sigismember(&now, SIGUSR2) == sigismember(&old, SIGUSR2))
        #expect(sigprocmask(12345, &block, nil) == -1 && errno == EINVAL)
    }

    @Test func mapsParseAsTheyRead() {
        let maps = MemoryMapping.parse("""
        55e6f4fb7000-55e6f4fba000 r-xp 00001000 fe:01 1234    /usr/bin/my server
        7ffd0d32a000-7ffd0d34b000 rw-p 00000000 00:00 0                          [stack]
        7f6ffa046000-7f6ffa086000 rw-p 00000000 00:00 0 
        not a mapping line
        """)
        #expect(maps.count == 3)
        #expect(maps.first == MemoryMapping(start: 0x55e6f4fb7000, end: 0x55e6f4fba000, permissions: "r-xp", offset: 0x1000,
                                            inode: 1234, path: "/usr/bin/my server"))
        #expect(maps.map(\.path) == ["/usr/bin/my server", "[stack]", ""])
    }

    @Test func threadNamesAreReadAsTheyAreSet() throws {
        let child = try TestProcess("/bin/sleep", ["30"])
        defer { child.finish() }
        #expect(child.waitUntilSleeping())
        #expect(ProcFile.threadNames(pid: child.pid, tids: [child.pid, 999_999_999]) == ["sleep", ""])
        child.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func overlappingPrefetchedRangesReadBackWhole() throws {
        let count = 3 * 4096
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 4096)
        defer { source.deallocate() }
        for index in 0..<count { source[index] = UInt8(truncatingIfNeeded: index * 7 + 3) }
        let base = UInt64(UInt(bitPattern: source.baseAddress!))
        let cache = CachingMemoryReader(ProcessVMReader(pid: getpid()))
        let copied = cache.prefetch([base...(base + 8191), (base + 4096)...(base + UInt64(count) - 1)])
        #expect(copied == 4 * 4096)
        let misses = cache.missCount
        let bytes = try cache.readBytes(at: base + 100, count: count - 200)
        #expect(bytes == Array(source[100..<(count - 100)]))
        #expect(cache.missCount == misses)
    }

    /// The unwind stage shared with a helper: every thread's stack, the sentences and their order
    /// are those of the serial walk, whether the helper (its own unwinder and page-cache reader)
    /// takes every thread or races the stage's thread for them.
    @Test func stacksUnwoundOnTwoThreadsAreTheSerialOnes() throws {
        adoptOrphans()
        let target = try TestProcess(builtProduct("ats-crasher"), [
            "--helper", builtProduct("invoker"), "--mode", "hang", "--threads", "6", "--ready-fd", "3", "--", "--log-dir", "/tmp",
        ], reportPipe: true)
        defer { target.finish(); reapAllChildren() }
        _ = target.readReportLine()
        let session = try PtraceSession.attach(pid: target.pid, deadline: .after(seconds: 5))
        let snapshot = LiveProcessSnapshot.capture(session: session, fault: nil)
        let deadline = Deadline.after(seconds: 20)
        let serial = UnwindTracer().capture(snapshot: snapshot, deadline: deadline)
        // The helper takes every thread (it is offered the share before the stage's thread starts).
        let allHelped = UnwindTracer().capture(snapshot: snapshot, deadline: deadline, offer: { $0.help() })
        // The helper on a thread of its own, racing the stage's thread.
        var helper: JoinableThread<Void>? = nil
        let raced = UnwindTracer().capture(snapshot: snapshot, deadline: deadline, offer: { share in
            helper = JoinableThread { share.help() }
        })
        helper?.join()
        session.detach()
        // The fixture's main thread and its six workers, every stack walked to its outermost frame.
        #expect(serial.threads.count >= 7)
        #expect(serial.threads.allSatisfy { $0.frames.count >= 3 && $0.unwindStop == nil }, "\(serial.threads.map(\.unwindStop))")
        #expect(allHelped.threads == serial.threads)
        #expect(allHelped.remarks.problems == serial.remarks.problems)
        #expect(allHelped.remarks.notes.first?.contains("(\(serial.threads.count) of the threads on a second thread)") == true,
                "\(allHelped.remarks.notes)")
        #expect(raced.threads == serial.threads)
        #expect(raced.remarks.problems == serial.remarks.problems)
        target.finish()
        reapAllChildren()
        #expect(leftoverProcesses().isEmpty)
    }
}
