// CoreCommand: `invoker core --file CORE` writes the crash report of a core file on disk (the
// same text log and JSON report a live crash gets) with libdwfl's core support;
// `invoker core PID TID SIGNAL TIME` (kernel.core_pattern = |invoker core %P %i %s %t) does the
// same for the core the kernel pipes to it, spooled to a capped temporary file first.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import SystemPackage
import TracerKit
import Tracers

struct CoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Write the crash report of a core file, or of the core the kernel pipes in.",
        discussion: """
        Reads the core's notes (the signal, every thread's registers, the process name) and \
        unwinds every thread with elfutils' libdwfl, as eu-stack does on a core. The report is \
        named crash-%Y-%m-%d-%H%M%S.log (and .json) after the crash's time. As a \
        kernel.core_pattern pipe, it reads the core from standard input: |/usr/local/bin/invoker core --log-dir DIR %P %i %s %t
        """)

    @Option(name: .long, help: "The core file to read.")
    var file: String?

    @Option(name: .long, help: "The program that dumped it (default: the file the core names).")
    var exe: String?

    @Option(name: .customLong("log-dir"), help: "Write the report into this directory (default: the configured output_dir, else the current directory).")
    var logDir: String?

    @Option(name: .long, help: "The configuration file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

    @Option(name: .customLong("max-core-size"), help: "Bytes of a piped core kept in the temporary copy; the rest is read and dropped (default: 1 GiB).")
    var maxCoreSize: UInt64 = 1 << 30

    @Argument(help: "Without a file, the kernel's %P %i %s %t (pid, crashing thread, signal, time); the core is read from standard input.")
    var kernel: [String] = []

    func validate() throws {
        if file == nil && kernel.isEmpty { throw ValidationError("Give --file CORE, or the kernel's %P %i %s %t with the core on standard input.") }
        if file != nil && !kernel.isEmpty { throw ValidationError("--file and a piped core's %P %i %s %t exclude each other.") }
        if !kernel.isEmpty && (kernel.count > 4 || kernel.contains { Int64($0) == nil }) {
            throw ValidationError("A piped core takes at most four numbers, %P %i %s %t; got \(kernel.joined(separator: " ")).")
        }
    }

    func run() throws {
        StandardDescriptors.ensureOpen()
        Diagnostics.bootstrap(syslog: file == nil, ident: "invoker")
        let logger = Logger(label: "invoker")
        let configuration = try ChainAssembly.forCommand(explicit: config)
        var directory = LogDirectory(path: logDir ?? configuration.outputDirectory ?? LogDirectory.currentDirectory(),
                                     source: logDir != nil ? "--log-dir" : configuration.outputDirectory != nil ? "output_dir" : "current directory")
        directory.problem = LogDirectory.usabilityProblem(directory)
        if let problem = directory.problem {
            logger.error("\(problem)")
            throw CommandFailure(.nothing, problem)
        }
        let started = Deadline.now()
        var report: CrashReport
        if let file {
            let dump = try read(file, executable: exe, logger: logger)
            var status = stat()
            let time = stat(file, &status) == 0 ? Int(status.st_mtim.tv_sec) : Int(Glibc.time(nil))
            report = CoreReport.make(from: dump, time: time, readSeconds: Deadline.now().seconds(since: started))
        } else {
            report = try readPiped(directory: directory.path, started: started, logger: logger)
        }
        // The command line (NT_PRPSINFO) can carry a secret: the same redaction as every report.
        report.redact(with: Dispatcher(configuration: configuration, outputDirectory: directory, serverUser: nil,
                                       hostTriplet: nil, toStandardOutput: false, logger: logger).redactor)
        let writer = ReportWriter(directory: directory, formats: configuration.formats, retention: configuration.retention,
                                  prefix: "crash", time: report.time, logger: logger, layout: configuration.logLayout,
                                  groupThreads: configuration.groupThreads)
        let status = ExitStatus.of(report, written: writer.writeFinal(report, replacing: nil) != nil)
        if let failure = ExitStatus.ending(status) { throw failure }
    }

    private func read(_ path: String, executable: String?, logger: Logger) throws -> CoreDump {
        do {
            return try CoreFileReader.read(path: path, executable: executable)
        } catch {
            logger.error("\(error.description)")
            throw CommandFailure(.nothing, error.description)
        }
    }

    /// The report of the core on standard input: the kernel's %P %i %s %t, the program from
    /// /proc/%P/exe (readable while the kernel waits on the pipe), the core spooled and read.
    private func readPiped(directory: String, started: Deadline, logger: Logger) throws -> CrashReport {
        let numbers = kernel.compactMap { Int64($0) }
        let pid = Int32(truncatingIfNeeded: numbers[0])
        var executable = exe
        if executable == nil, let link = ProcFile.readLink("/proc/\(pid)/exe") {
            executable = link.hasSuffix(" (deleted)") ? String(link.dropLast(" (deleted)".count)) : link
        }
        let spool: CoreSpool
        do {
            spool = try CoreSpool.spool(from: .standardInput, directory: directory, pid: pid, limit: maxCoreSize)
        } catch {
            logger.error("\(error.description)")
            throw CommandFailure(.nothing, error.description)
        }
        defer { unlink(spool.path) }
        // The core names its files; the one /proc/PID/exe named is used only if it still exists.
        let dump = try read(spool.path, executable: executable.flatMap { access($0, R_OK) == 0 ? $0 : nil }, logger: logger)
        let time = numbers.count > 3 ? Int(numbers[3]) : Int(Glibc.time(nil))
        var report = CoreReport.make(from: dump, time: time, readSeconds: Deadline.now().seconds(since: started),
                                     source: "the core piped in by the kernel")
        if report.fault?.crashingThread == nil, numbers.count > 1 { report.fault?.crashingThread = Int32(truncatingIfNeeded: numbers[1]) }
        report.notes.append("\(spool.bytesRead) bytes of core read from the pipe, \(spool.bytesKept) kept in a temporary copy (since removed)")
        if spool.isTruncated {
            report.problems.append("The piped core was \(spool.bytesRead) bytes; only the first \(spool.bytesKept) were kept (--max-core-size), so stacks in memory past that point could not be read.")
        }
        return report
    }
}
