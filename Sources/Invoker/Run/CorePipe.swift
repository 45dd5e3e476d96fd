// CorePipe: `invoker core %P %i %s %t` as kernel.core_pattern's pipe. The kernel writes the core's
// headers and notes first and then blocks on the pipe; while it waits, the process's /proc/%P is
// readable and process_vm_readv reads its memory. So:
//
//   read the head (CoreStream: headers, notes) ─► process still there? ─► yes: the built-in tracers'
//   capture on the live process (CoreCapture) ─► drain the rest (kept, compressed, if keep_core
//   says so), which lets the kernel finish the process's exit ─► the tracers' finish (symbolizing)
//                                        └─► no: drain the rest into a sparse copy of only its stacks
//                                            and small segments (CoreSpool) ─► libdwfl (CoreFileReader)
//
// Memory stays bounded (the head, one chunk, the snapshot's stack copy) whatever the core's size.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemPackage
import TracerKit
import Tracers

struct CorePipe {
    /// The kernel's %P (pid in the initial namespace: /proc/%P) and %i (crashing thread).
    let pid: Int32
    let crashingThread: Int32?
    /// The kernel's %t.
    let time: Int
    /// --exe, for the fallback's libdwfl.
    let executable: String?
    let configuration: Configuration
    /// Where the report (and a kept core, and the fallback's temporary copy) goes.
    let logDirectory: LogDirectory
    var directory: String { logDirectory.path }
    /// The kept core's file name (keep_core), after the report's.
    let keptCoreName: String
    let logger: Logger

    /// The report of the core on `input`.
    func report(from input: FileDescriptor, started: Deadline) throws -> CrashReport {
        let stream = try CoreStream(input: input)
        let deadline = started.adding(seconds: configuration.deadline)
        let kept = configuration.keepCore
            ? CompressedCore(directory: directory, name: keptCoreName, limit: configuration.keepCoreLimit) : nil
        kept?.append(stream.head)
        var report: CrashReport
        var drainProblem: String? = nil
        if CoreProcessSnapshot.isDumping(pid: pid, processName: stream.notes.processName,
                                     stackPointer: stream.notes.threads.first?.registers.rsp) {
            let capture = CoreCapture(dispatcher: Dispatcher(configuration: configuration, outputDirectory: logDirectory, serverUser: nil,
                                                             hostTriplet: nil, toStandardOutput: false, logger: logger))
            let captured = capture.capture(pid: pid, notes: stream.notes, time: time, deadline: deadline)
            let drainStart = Deadline.now()
            do throws(CoreStreamError) { try stream.drain { _, bytes in kept?.append(bytes) } } catch { drainProblem = error.description }
            let drained = Deadline.millisecondsSince(drainStart)
            report = capture.finish(captured, deadline: deadline)
            report.notes.append("the rest of the core drained in \(drained) ms, after the capture and before symbolizing")
        } else {
            let spool = try CoreSpool(for: stream, directory: directory, pid: pid, stackLimit: configuration.stackCopyLimit)
            defer { unlink(spool.path) }
            do throws(CoreStreamError) {
                try stream.drain { offset, bytes in
                    spool.consume(bytes, at: offset)
                    kept?.append(bytes)
                }
            } catch { drainProblem = error.description }
            spool.finish(size: stream.bytesRead)
            // The core names its files; --exe (a program moved or rebuilt since) only if it exists.
            // The variables tracer reads what the copy kept (the stacks); other memory is unreadable.
            let variables = Self.variablesOptions(of: configuration)
            let dump = try CoreFileReader.read(path: spool.path, executable: executable.flatMap { access($0, R_OK) == 0 ? $0 : nil },
                                               variables: variables, deadline: deadline,
                                               present: [0..<UInt64(stream.head.count)] + spool.ranges)
            report = CoreReport.make(from: dump, time: time, readSeconds: Deadline.now().seconds(since: started),
                                     source: "the core piped in by the kernel, process \(pid) being gone")
            report.notes.append("\(spool.bytesKept) bytes of the core (its notes, stacks and small segments) kept in a sparse temporary copy for libdwfl, since removed")
        }
        if report.fault?.crashingThread == nil, let crashingThread { report.fault?.crashingThread = crashingThread }
        report.notes.append("\(stream.bytesRead) bytes of core read from the pipe")
        if let drainProblem { report.problems.append(drainProblem) }
        if let kept {
            kept.finish(total: stream.bytesRead)
            report.notes.append("the core was kept in \(kept.path): \(kept.bytesIn) bytes of core, \(kept.bytesOut) compressed (gzip)")
            if let problem = kept.problem { report.problems.append(problem) }
        } else if configuration.keepCore {
            report.problems.append("The core could not be kept: \(directory)/\(keptCoreName) could not be created (it exists, or the directory is not writable).")
        }
        return report
    }

    /// The variables stage's options when the chain has it (a core file's memory is read by it too).
    static func variablesOptions(of configuration: Configuration) -> VariablesOptions? {
        configuration.builtinStages.lazy.compactMap { stage -> VariablesOptions? in
            if case .variables(let tracer) = stage { return tracer.options }
            return nil
        }.first
    }
}
