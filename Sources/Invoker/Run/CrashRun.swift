// CrashRun: one crash, start to finish. Park (with --wait), read the payload, stop the target,
// capture, run the built-in tracers, release the target, run the external program, write the log.
//
// Everything after the wake is bounded by one deadline; the target is released (PtraceSession
// detaches in every path, and on our exit the kernel detaches whatever is left) before any
// external program runs, so gdb or gcore can attach themselves.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemPackage
import TracerKit
import Tracers

struct CrashRun {
    struct Options {
        var target: Int32?
        var wait: Bool
        var debug: Bool
        var hostTriplet: String?
        var user: String?
        var execProgram: String?
        var runroot: String?
        var logDirectory: String?
        var deadlineSeconds: Double
    }

    let options: Options
    let logger: Logger

    /// Runs and returns the process exit status.
    func run() async -> Int32 {
        let parent = getppid()
        let pid = options.target ?? parent
        // Resolved before parking: a misconfigured log directory shows when the server starts.
        let outputDirectory = LogDirectory.resolve(explicit: options.logDirectory, runroot: options.runroot)
        if !options.debug, let problem = outputDirectory.problem {
            logger.warning("\(problem)")
        }

        var fault: FaultContext? = nil
        if options.wait {
            do {
                try Handshake.park(parent: parent)
            } catch {
                logger.error("\(error.description)")
                return 0
            }
            switch Handshake.readPayload(from: .standardInput) {
            case .shutdown:
                return 0
            case .crash(let payload):
                fault = FaultContext(pid: pid, payload: payload)
            }
        }

        let start = Deadline.now()
        let deadline = start.adding(seconds: options.deadlineSeconds)
        var report = capture(pid: pid, fault: fault, deadline: deadline)
        if let program = options.execProgram {
            report.tracerRuns.append(await ExecRunner.run(program: program, pid: pid, user: options.user,
                                                          deadline: deadline.capped(at: .after(seconds: 30))))
        }
        report.tracerRuns.insert(TracerRun(name: "invoker", seconds: Deadline.now().seconds(since: start),
                                           outcome: "capture finished"), at: 0)
        let text = CrashLogWriter(report: report, helperVersion: InvokerCommand.version).render()
        if options.debug {
            print(text, terminator: "")
            return 0
        }
        return write(text, report: report, directory: outputDirectory)
    }

    /// Attaches, snapshots, runs the built-in tracers and releases the target.
    func capture(pid: Int32, fault: FaultContext?, deadline: Deadline) -> CrashReport {
        let executable = ProcFile.readLink("/proc/\(pid)/exe") ?? "?"
        var report = CrashReport(pid: pid, executable: executable, commandLine: [], hostTriplet: options.hostTriplet,
                                 time: Int(time(nil)), fault: fault)
        report.problems += fault?.problems ?? []
        // Read before stopping the target, so Process Status shows the state the server was in.
        report.processName = ProcFile.readText("/proc/\(pid)/comm", limit: 64)?.trimmingWhitespace()
        report.processStatus = ProcFile.readText("/proc/\(pid)/status", limit: 64 * 1024)
        report.processLimits = ProcFile.readText("/proc/\(pid)/limits", limit: 64 * 1024)
        report.memoryRegions = ProcFile.readText("/proc/\(pid)/maps", limit: 16 << 20)
        let session: PtraceSession
        do {
            session = try PtraceSession.attach(pid: pid, deadline: deadline)
        } catch {
            logger.error("\(error.description)")
            report.problems.append(error.description)
            return report
        }
        defer { session.detach() }
        let snapshot = ProcessSnapshot.capture(session: session, fault: fault)
        report.fault = snapshot.fault
        report.executable = snapshot.executable
        report.commandLine = snapshot.commandLine
        report.modules = snapshot.modules?.modules ?? []
        report.problems += snapshot.problems
        if !session.vanishedThreads.isEmpty {
            report.problems.append("Threads \(session.vanishedThreads.map(String.init).joined(separator: ", ")) exited while the target was being stopped.")
        }
        let tracers: [any Tracer] = [UnwindTracer()]
        for tracer in tracers {
            let started = Deadline.now()
            tracer.run(snapshot: snapshot, report: &report, deadline: deadline)
            report.tracerRuns.append(TracerRun(name: tracer.name, seconds: Deadline.now().seconds(since: started),
                                               outcome: deadline.hasExpired ? "stopped at the deadline" : "completed"))
        }
        return report
    }

    /// Writes the log; if the directory is unusable, sends the whole log to standard error and
    /// syslog instead, so it is never lost silently.
    func write(_ text: String, report: CrashReport, directory: LogDirectory) -> Int32 {
        let name = CrashLogWriter.fileName(time: report.time)
        switch AtomicFile.write(text, directory: directory.path, name: name, mode: 0o400) {
        case .success(let path):
            logger.notice("wrote crash log to \(path)")
            return 0
        case .failure(let failure):
            logger.critical("cannot write the crash log to \(directory.path): \(failure); the log follows on standard error and in syslog")
            FileDescriptor.standardError.writeAllIgnoringErrors(text)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                logger.critical("\(line)")
            }
            return 1
        }
    }
}

extension FileDescriptor {
    func writeAllIgnoringErrors(_ text: String) {
        var bytes = Array(text.utf8)
        _ = try? bytes.withUnsafeMutableBytes { try writeAll(UnsafeRawBufferPointer($0)) }
    }
}
