// CrashGuard: a report even when invoker itself crashes mid-capture (libunwind's abort() on a
// damaged library mapped in the server, a trap of ours on input nobody foresaw). The dispatcher
// keeps a pre-rendered report of what it has captured so far, and the threads it holds, in the C
// shim's crash guard (crash_guard.c); the guard's handler releases the threads, writes that report
// with async-signal-safe calls and lets us die by the signal.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim
import TracerKit

enum CrashGuard {
    /// Installs the handlers (once per run, after the wake: nothing on the parked start-up path).
    static func install() { ivk_guard_install() }

    /// What the run is doing now, for the crash line ("while unwinding the stacks").
    static func stage(_ text: StaticString) {
        // A string literal's storage is static and NUL-terminated.
        text.utf8Start.withMemoryRebound(to: CChar.self, capacity: text.utf8CodeUnitCount + 1) { ivk_guard_set_stage($0) }
    }

    /// Publishes `report` as what a crash of ours would leave: written to `path` (or, without
    /// one, to standard output) with a line naming the stage.
    static func keep(_ report: CrashReport, path: String?, layout: LogLayout?, groupThreads: Bool) {
        ivk_guard_protect_this_thread()
        var writer = CrashLogWriter(report: report, helperVersion: InvokerCommand.version, layout: layout)
        writer.groupThreads = groupThreads
        let text = writer.render()
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                if let path { ivk_guard_set_report(chars.baseAddress, chars.count, path, 2) }
                else { ivk_guard_set_report(chars.baseAddress, chars.count, nil, 1) }
            }
        }
    }

    /// The report was written normally: a crash from now on writes only its line (on stderr).
    static func withdraw() { ivk_guard_clear_report() }

    /// The target's threads held stopped now (empty once released).
    static func hold(_ tids: [Int32]) {
        tids.withUnsafeBufferPointer { ivk_guard_hold($0.baseAddress, $0.count) }
    }

    /// For the fault suite only: INVOKER_FAULT_INJECTION=abort:NAME or segv:NAME makes the run
    /// crash for real (abort(), or a write to an unmapped address) just before built-in tracer
    /// NAME captures, so the guard's path is exercised end to end.
    static func injectFaultIfAsked(before tracer: String) {
        guard let value = getenv("INVOKER_FAULT_INJECTION").map({ String(cString: $0) }) else { return }
        if value == "abort:" + tracer { abort() }
        if value == "segv:" + tracer, let wild = UnsafeMutablePointer<Int>(bitPattern: 8) {
            wild.pointee = 13
        }
    }
}
