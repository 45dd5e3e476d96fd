// PtraceSession on real processes: every thread stops once, everything is released on detach and
// on deinit, a second tracer gets a sentence that names the first, a gone process says so.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import TestSupport
import Testing
@testable import TracerKit

@Suite(.timeLimit(.minutes(3)), .serialized, .enabled(if: ptraceUnavailableReason() == nil, "ptrace is not permitted on this machine (Yama ptrace_scope, or a container without CAP_SYS_PTRACE)"))
struct PtraceSessionTests {
    @Test func attachStopsThenDetachReleases() throws {
        let child = try TestProcess("/bin/sleep", ["30"])
        defer { child.finish() }
        let session = try PtraceSession.attach(pid: child.pid, deadline: .after(seconds: 5))
        #expect(session.threads.map(\.tid) == [child.pid])
        #expect(child.state == "t")
        // ptrace links threads: the tracer is this test's thread.
        #expect(child.tracer == ivk_gettid())
        let registers = try session.registers(of: child.pid)
        #expect(registers.rip != 0 && registers.rsp != 0)
        session.detach()
        #expect(child.state != "t" && child.state != "T")
        #expect(child.tracer == 0)
        child.finish()
        #expect(leftoverProcesses().isEmpty)
    }

    @Test func droppingTheSessionReleasesTheTarget() throws {
        let child = try TestProcess("/bin/sleep", ["30"])
        defer { child.finish() }
        do {
            _ = try PtraceSession.attach(pid: child.pid, deadline: .after(seconds: 5))
        }
        #expect(child.tracer == 0)
        #expect(child.state != "t" && child.state != "T")
    }

    @Test func secondTracerIsToldWhoHoldsTheTarget() throws {
        let child = try TestProcess("/bin/sleep", ["30"])
        defer { child.finish() }
        let first = try PtraceSession.attach(pid: child.pid, deadline: .after(seconds: 5))
        defer { first.detach() }
        let message = explainPermissionForTracedChild(child.pid)
        #expect(message.contains("process \(ivk_gettid())"))
        #expect(message.contains("already tracing it"))
    }

    @Test func goneProcessIsReported() throws {
        let child = try TestProcess("/bin/true")
        child.waitForExit()
        #expect(throws: PtraceError.processGone(pid: child.pid)) {
            try PtraceSession.attach(pid: child.pid, deadline: .after(seconds: 2))
        }
    }

    /// What PTRACE_SEIZE's EPERM explanation says about a target we already trace.
    private func explainPermissionForTracedChild(_ pid: Int32) -> String {
        PtraceError.notPermitted(pid: pid, tid: pid, errno: .notPermitted,
                                 reason: PtraceError.explainPermission(pid: pid, tid: pid)).description
    }
}
