// CrashHelper: the crash helper's life: park (with --wait), read the payload, hand the fault to
// the dispatcher.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemPackage
import TracerKit

struct CrashHelper {
    let target: Int32?
    let wait: Bool
    /// Read a Traffic Server payload from stdin after waking (off with -n).
    let readPayload: Bool
    /// Runs the chain once the fault is known; it holds the configuration and the output.
    let dispatcher: Dispatcher

    /// What the helper does once `parkAndWake()` returns.
    enum Wake {
        /// Nothing to capture (a clean shutdown, or parking failed): exit with this status.
        case exit(Int32)
        /// Capture `pid`; `fault` is what the server's payload said, if it sent one; `start` is
        /// when the run's deadline began (when the server spoke).
        case capture(pid: Int32, fault: FaultContext?, regain: RootRegain, start: Deadline)
    }

    /// Parks (with --wait) and reads the payload, synchronously on the calling thread. Called on
    /// the main thread before any Swift concurrency worker exists, the parked helper is one
    /// thread: libdispatch creates its workers with a QoS priority that setpriority refuses
    /// (EACCES) under traffic_manager's effective uid, and says so in syslog on every start.
    /// After a crash wakes us, effective uid 0 is taken back here, before any worker starts.
    func parkAndWake() -> Wake {
        let parent = getppid()
        let pid = target ?? parent
        // Checked before parking: a misconfigured log directory shows when the server starts.
        if !dispatcher.toStandardOutput, let problem = dispatcher.outputDirectory.problem {
            dispatcher.logger.warning("\(problem)")
        }
        var fault: FaultContext? = nil
        var woken: Deadline? = nil
        if wait {
            do {
                try Handshake.park(parent: parent)
            } catch {
                dispatcher.logger.error("\(error.description)")
                return .exit(0)
            }
            if readPayload {
                let event = Handshake.awaitServer(input: .standardInput, parent: parent) {
                    dispatcher.logger.notice("woken by SIGCONT, but the server (pid \(parent)) is alive and sent nothing: job control, not a crash; waiting for a crash as before")
                }
                if event == .parentGone { return .exit(0) }
                // The run's deadline starts now, when the server speaks, and bounds the read too:
                // a server that leaves its socket open costs at most a quarter of it (5 s at most).
                let spoke = Deadline.now()
                woken = spoke
                let budget = max(0, min(Self.payloadWait, dispatcher.configuration.deadline / 4))
                // A payload is a crash even if the server is already gone (it did not wait for
                // us): the signal and registers it sent are still worth a log.
                switch Handshake.readPayload(from: .standardInput, deadline: spoke.adding(seconds: budget)) {
                case .shutdown:
                    return .exit(0)
                case .crash(let payload):
                    fault = FaultContext(pid: pid, payload: payload)
                }
            } else if getppid() != parent && target == nil {
                // Woken by the parent-death signal: the server exited; nothing to capture.
                return .exit(0)
            }
        }
        return .capture(pid: pid, fault: fault, regain: TracerPrivileges.regainRootIfPermitted(),
                        start: woken ?? Deadline.now())
    }

    /// Runs the chain on the woken-for process; `start` is when its deadline began. On the
    /// caller's executor (the main thread: InvokerMain runs it as the main actor's first task): no
    /// worker thread starts before the server is released.
    nonisolated(nonsending) func capture(pid: Int32, fault: FaultContext?, regain: RootRegain, start: Deadline) async -> Int32 {
        await dispatcher.run(pid: pid, fault: fault, mode: .crash, regain: regain, start: start)
    }

    /// The longest a payload read may take (an ATS server writes about 1 KiB and closes at once).
    static let payloadWait = 5.0
}
