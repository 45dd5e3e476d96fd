// ExecRunner: runs traffic_crashlog's `--exec PROGRAM` (PROGRAM PID) through swift-subprocess in
// its own process group, output and error combined and captured, bounded by a deadline: on
// expiry the group gets SIGTERM, then SIGKILL one second later.

#if canImport(Glibc)
import Glibc
#endif
import Subprocess
import SystemPackage
import TracerKit

enum ExecRunner {
    static let outputLimit = 4 << 20

    static func run(program: String, pid: Int32, user: String?, deadline: Deadline) async -> TracerRun {
        let command = [program, String(pid)]
        let started = Deadline.now()
        var platform = PlatformOptions()
        platform.processGroupID = 0
        platform.teardownSequence = [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: .seconds(1)),
            .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .seconds(1)),
        ]
        let options = platform
        let seconds = deadline.secondsRemaining
        let outcome: Result<(TerminationStatus, String), any Error>? = await withTaskGroup(
            of: Result<(TerminationStatus, String), any Error>?.self
        ) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(
                        .path(FilePath(program)), arguments: Arguments([String(pid)]), platformOptions: options,
                        output: .string(limit: outputLimit), error: .combinedWithOutput)
                    return .success((result.terminationStatus, result.standardOutput))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let elapsed = Deadline.now().seconds(since: started)
        switch outcome {
        case .none:
            return TracerRun(name: "exec", command: command, seconds: elapsed, exitStatus: nil,
                             outcome: "killed after \(Int(seconds)) s: it did not finish before the deadline")
        case .failure(let error)?:
            return TracerRun(name: "exec", command: command, seconds: elapsed, exitStatus: nil,
                             outcome: "could not run: \(error)")
        case .success(let (status, output))?:
            switch status {
            case .exited(let code):
                return TracerRun(name: "exec", command: command, seconds: elapsed, exitStatus: code,
                                 outcome: "exited with status \(code)", output: output)
            case .signaled(let signal):
                return TracerRun(name: "exec", command: command, seconds: elapsed, exitStatus: nil,
                                 outcome: "killed by \(SignalInfo.name(of: signal))", output: output)
            }
        }
    }
}
