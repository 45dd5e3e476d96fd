// ExternalTracer: runs one external program of the chain (gdb, gcore, eu-stack, a vendor's
// snapshot tool, a notifier) through swift-subprocess: no shell, its own process group, its own
// timeout (SIGTERM to the group, then SIGKILL a second later), started through a launcher
// (`invoker exec-tracer`) that gives it default signals and, optionally, another user, with
// standard output and error captured together up to a byte cap. It runs only after the target
// has been released, so it can attach to the target itself.

#if canImport(Glibc)
import Glibc
#endif
import Subprocess
import Synchronization
import SystemPackage
import TracerKit

/// One external program, ready to run (placeholders already expanded).
public struct ExternalTracer: Sendable {
    public var name: String
    public var command: [String]
    public var timeout: Double
    /// Run as this uid/gid (with that user's groups), when set.
    public var identity: UserIdentity?
    /// The program's whole environment (nothing else is inherited).
    public var environment: [String: String]
    public var workingDirectory: String?
    public var outputLimit: Int
    /// The program that starts the command: `invoker` itself, whose `exec-tracer` subcommand takes
    /// `[--uid U --gid G --groups G1,G2] -- PROGRAM ARGS…`, resets the signal mask and dispositions,
    /// switches to `identity` and executes the command. Neither is left to swift-subprocess: its
    /// child inherits a blocked SIGCHLD, and its user switch can hang forever in glibc's setgroups
    /// (see ExecTracerCommand.swift). Without one, the command is spawned directly and cannot run
    /// as another user.
    public var launcher: String?

    public init(name: String, command: [String], timeout: Double, identity: UserIdentity? = nil,
                environment: [String: String] = [:], workingDirectory: String? = nil, outputLimit: Int = 1 << 20,
                launcher: String? = nil) {
        self.name = name; self.command = command; self.timeout = timeout; self.identity = identity
        self.environment = environment; self.workingDirectory = workingDirectory; self.outputLimit = outputLimit
        self.launcher = launcher
    }

    /// The argv to spawn: the command through the launcher (as `identity` unless that is who we
    /// already are), or the bare command when there is no launcher.
    func spawnedCommand() -> Result<[String], SwitchError> {
        let switchTo = identity.flatMap { $0.isCurrent ? nil : $0 }
        guard let launcher else { return switchTo.map { .failure(SwitchError(user: $0.name)) } ?? .success(command) }
        let user = switchTo.map { identity in
            ["--uid", String(identity.uid), "--gid", String(identity.gid), "--groups", identity.groups.map(String.init).joined(separator: ",")]
        } ?? []
        return .success([launcher, "exec-tracer", "--environment-from-prefix"] + user + ["--"] + command)
    }

    /// The launcher receives the program's environment under this prefix (see ExecTracerCommand),
    /// so that LD_PRELOAD and the like reach the program only, never the launcher running as root.
    public static let environmentPrefix = "INVOKER_TRACER_ENV_"

    /// What the spawned process gets: the environment itself without a launcher, else prefixed.
    func spawnedEnvironment() -> [String: String] {
        guard launcher != nil else { return environment }
        return Dictionary(uniqueKeysWithValues: environment.map { (Self.environmentPrefix + $0.key, $0.value) })
    }

    struct SwitchError: Error { var user: String }

    /// Runs the program, bounded by its timeout and by `deadline`, and says how it went.
    public func run(deadline: Deadline) async -> TracerRun {
        let started = Deadline.now()
        let seconds = min(timeout, deadline.secondsRemaining)
        let collector = OutputCollector(limit: outputLimit)
        var platform = PlatformOptions()
        platform.processGroupID = 0
        platform.teardownSequence = [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: .seconds(1)),
            .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .seconds(1)),
        ]
        let options = platform
        var run = TracerRun(name: name, command: command, seconds: 0, exitStatus: nil, outcome: "", output: "")
        // A program that is not there is said so plainly, also when a user switch would start first.
        if access(command[0], F_OK) != 0 {
            run.outcome = "could not run \(command[0]): \(String(cString: strerror(errno)))"
            return run
        }
        let argv: [String]
        switch spawnedCommand() {
        case .success(let spawned): argv = spawned
        case .failure(let error):
            run.outcome = "could not run \(command[0]) as \(error.user): no program to switch users with was given"
            return run
        }
        let environment = Environment.custom(
            Dictionary(uniqueKeysWithValues: spawnedEnvironment().map { (Environment.Key(stringLiteral: $0.key), $0.value) }))
        // The process group to end with the tracer: whatever it started must not outlive it (as root).
        let processGroup = ProcessGroupRecord()
        let directory = workingDirectory.map { FilePath($0) }

        let outcome: Result<TerminationStatus, SubprocessError>? = await withTaskGroup(
            of: Result<TerminationStatus, SubprocessError>?.self
        ) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(
                        .path(FilePath(argv[0])), arguments: Arguments(Array(argv.dropFirst())),
                        environment: environment, workingDirectory: directory, platformOptions: options,
                        input: .none, output: .sequence, error: .combinedWithOutput
                    ) { execution in
                        processGroup.record(execution.processIdentifier.value)
                        for try await chunk in execution.standardOutput {
                            chunk.withUnsafeBytes { collector.append($0) }
                        }
                    }
                    return .success(result.terminationStatus)
                } catch let error as SubprocessError {
                    return .failure(error)
                } catch {
                    return nil
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        // Its own process group (processGroupID 0) has its pid as id; what is left in it is killed.
        let leftover = processGroup.id
        let leftoverKilled = leftover > 0 && kill(-leftover, SIGKILL) == 0
        run.seconds = Deadline.now().seconds(since: started)
        run.output = collector.text
        switch outcome {
        case .none:
            run.outcome = "timed out after \(Self.format(seconds)) s: its process group was sent SIGTERM, then SIGKILL"
        case .failure(let error)?:
            run.outcome = "could not run \(command[0]): \(error)"
        case .success(.exited(let code))?:
            run.exitStatus = code
            run.outcome = code == 0 ? "exited with status 0" : "failed: exited with status \(code)"
        case .success(.signaled(let signal))?:
            run.outcome = "failed: killed by \(SignalInfo.name(of: signal)) (\(SignalInfo.description(of: signal)))"
        }
        if collector.truncated { run.outcome += "; output cut at \(outputLimit) bytes" }
        if leftoverKilled { run.outcome += "; processes it left in its process group were killed" }
        return run
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// A user to run external tracers as.
public struct UserIdentity: Sendable, Equatable {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t
    public var groups: [gid_t]

    /// Whether this process already runs as this user, with these groups.
    public var isCurrent: Bool {
        var count = getgroups(0, nil)
        var list = Array<gid_t>(repeating: 0, count: Int(max(count, 0)))
        count = getgroups(count, &list)
        return uid == getuid() && gid == getgid() && Set(groups) == Set(list.prefix(Int(max(count, 0))))
    }

    /// Looks up a user name, a numeric uid, or Traffic Server's "#uid" form in the password
    /// database.
    public static func lookUp(_ user: String) -> UserIdentity? {
        let numeric = user.hasPrefix("#") ? UInt32(user.dropFirst()) : UInt32(user)
        let entry = numeric.map { getpwuid($0) } ?? getpwnam(user)
        guard let entry else { return nil }
        let name = String(cString: entry.pointee.pw_name)
        let gid = entry.pointee.pw_gid
        var count: Int32 = 64
        var list = Array<gid_t>(repeating: 0, count: Int(count))
        let found = getgrouplist(name, gid, &list, &count) < 0 ? [gid] : Array(list.prefix(Int(count)))
        return UserIdentity(name: name, uid: entry.pointee.pw_uid, gid: gid, groups: found)
    }
}

/// The process group of the running tracer (its pid: it leads its own group), set once it starts.
final class ProcessGroupRecord: Sendable {
    private let state = Mutex<pid_t>(0)
    func record(_ pid: pid_t) { state.withLock { $0 = pid } }
    var id: pid_t { state.withLock { $0 } }
}

/// Collects output up to a cap and keeps draining past it, so the program never blocks on a full
/// pipe. Shared between the reading task and the caller.
final class OutputCollector: Sendable {
    private let state: Mutex<(bytes: [UInt8], truncated: Bool)>
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        state = Mutex(([], false))
    }

    func append(_ chunk: UnsafeRawBufferPointer) {
        state.withLock { state in
            let room = limit - state.bytes.count
            if chunk.count > room { state.truncated = true }
            if room > 0 { state.bytes.append(contentsOf: chunk.prefix(room)) }
        }
    }

    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }
    var truncated: Bool { state.withLock { $0.truncated } }
}
