// CoreCommand: `invoker core --file CORE` writes the crash report of a core file on disk (the
// same text log and JSON report a live crash gets) with libdwfl's core support;
// `invoker core PID TID SIGNAL TIME` (kernel.core_pattern = |invoker core %P %i %s %t) does the
// same for the core the kernel pipes to it (CorePipe: the live process read while the kernel
// waits, the core itself only streamed past).

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
        With --file, reads the core's notes (the signal, every thread's registers, the process \
        name) and unwinds every thread with elfutils' libdwfl, as eu-stack does on a core. As a \
        kernel.core_pattern pipe (|/usr/local/bin/invoker core --log-dir DIR %P %i %s %t), it reads \
        the notes from standard input and runs the configured built-in tracers on the process \
        itself, readable while the kernel waits on the pipe, then drains the rest of the core \
        (keep_core keeps it, compressed). The report is named crash-%Y-%m-%d-%H%M%S.log (and .json) \
        after the crash's time.
        """)

    @Option(name: .long, help: "The core file to read.")
    var file: String?

    @Option(name: .long, help: "The program that dumped it (default: the file the core names).")
    var exe: String?

    @Option(name: .customLong("log-dir"), help: "Write the report into this directory (default: the configured output_dir, else the current directory).")
    var logDir: String?

    @Option(name: .long, help: "The configuration file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

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
        let numbers = kernel.compactMap { Int64($0) }
        var time = Int(Glibc.time(nil))
        if let file {
            var status = stat()
            if stat(file, &status) == 0 { time = Int(status.st_mtim.tv_sec) }
        } else if numbers.count > 3 {
            time = Int(numbers[3])
        }
        let writer = ReportWriter(directory: directory, formats: configuration.formats, retention: configuration.retention,
                                  prefix: "crash", time: time, logger: logger, layout: configuration.logLayout,
                                  groupThreads: configuration.groupThreads)
        var report: CrashReport
        if let file {
            // The variables tracer, when the chain has it, reads the core's memory as it would the process's.
            let dump = try read(file, executable: exe, variables: CorePipe.variablesOptions(of: configuration),
                                deadline: started.adding(seconds: configuration.deadline), logger: logger)
            report = CoreReport.make(from: dump, time: time, readSeconds: Deadline.now().seconds(since: started))
        } else {
            let pipe = CorePipe(pid: Int32(truncatingIfNeeded: numbers[0]), crashingThread: numbers.count > 1 ? Int32(truncatingIfNeeded: numbers[1]) : nil,
                                time: time, executable: exe, configuration: configuration, logDirectory: directory,
                                keptCoreName: writer.baseName + ReportRetention.keptCoreSuffix, logger: logger)
            do {
                report = try pipe.report(from: .standardInput, started: started)
            } catch {
                logger.error("\(error)")
                throw CommandFailure(.nothing, "\(error)")
            }
        }
        // A crash like any other: its fingerprint and its group's standing in the crash store.
        CrashLoopGuard(directory: directory.path, settings: configuration.store, usesStore: configuration.store.enabled,
                       logger: logger).assess(report: &report)
        // The command line (NT_PRPSINFO, /proc/%P/cmdline) can carry a secret: the same redaction as every report.
        report.redact(with: Dispatcher(configuration: configuration, outputDirectory: directory, serverUser: nil,
                                       hostTriplet: nil, toStandardOutput: false, logger: logger).redactor)
        let written = writer.writeFinal(report, replacing: nil)
        let status = ExitStatus.of(report, written: written != nil)
        // Then, as after a crash: the store's index, Sentry, the notifiers (exec'd in place of this process).
        if let written, configuration.store.enabled {
            _ = ReportIndexer(directory: directory.path, settings: configuration.store, logger: logger)
                .index(report, at: written, now: Int(Glibc.time(nil)))
        }
        SentryForwarder.forwardAfterFinalReport(report, kind: "crash", baseName: writer.baseName, directory: directory.path,
                                                configuration: configuration, serverPID: report.pid, logger: logger,
                                                exitStatus: status.rawValue)
        if let written, !configuration.notifiers.isEmpty {
            logger.error("\(NotifyCommand.exec(configuration.notifiers, report: report, location: written, outputDirectory: directory.path))")
        }
        if let failure = ExitStatus.ending(status) { throw failure }
    }

    private func read(_ path: String, executable: String?, variables: VariablesOptions?, deadline: Deadline,
                      logger: Logger) throws -> CoreDump {
        do {
            return try CoreFileReader.read(path: path, executable: executable, variables: variables, deadline: deadline)
        } catch {
            logger.error("\(error.description)")
            throw CommandFailure(.nothing, error.description)
        }
    }
}
