// ClientHelper: the helper's life beside a program armed by libinvoker-client (`--client`),
// forked by the library's relay (so our parent is the relay, and --target names the program):
// park; on each wake read one framed request (ClientRequest): a snapshot is captured live and
// the helper parks again (the program waits for that stop); a crash is captured as Traffic
// Server's is, and ends the helper; EOF (the program exited) ends it quietly.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemPackage
import TracerKit

struct ClientHelper {
    /// The program (libinvoker-client passes --target: we are its grandchild, see arm.c).
    let target: Int32?
    /// Runs the chain once a request is known; it holds the configuration and the output.
    let dispatcher: Dispatcher

    /// Runs and returns the process exit status.
    func run() async -> Int32 {
        let parent = getppid()
        let pid = target ?? parent
        if !dispatcher.toStandardOutput, let problem = dispatcher.outputDirectory.problem {
            dispatcher.logger.warning("\(problem)")
        }
        while true {
            do {
                try Handshake.park(parent: parent)
            } catch {
                dispatcher.logger.error("\(error.description)")
                return 0
            }
            switch Handshake.readClientRequest(from: .standardInput) {
            case .shutdown:
                return 0
            case .idle:
                continue
            case .snapshot(let thread, let reason):
                let request = ReportSection(id: "request", title: "Snapshot Request", fields: [
                    Field("reason", .text(reason.isEmpty ? "(none given)" : reason)),
                    Field("requested_by_thread", .integer(Int64(thread))),
                ])
                _ = await dispatcher.run(pid: pid, fault: nil, mode: .live, sections: [request])
            case .crash(let payload):
                return await dispatcher.run(pid: pid, fault: FaultContext(pid: pid, payload: payload), mode: .crash)
            }
        }
    }
}
