// CoreCommand: `invoker core --file CORE` writes the crash report of a core file on disk (the
// same text log and JSON report a live crash gets) with libdwfl's core support.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import TracerKit
import Tracers

struct CoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Write the crash report of a core file.",
        discussion: """
        Reads the core's notes (the signal, every thread's registers, the process name) and \
        unwinds every thread with elfutils' libdwfl, as eu-stack does on a core. The report is \
        named crash-%Y-%m-%d-%H%M%S.log (and .json) after the core file's modification time.
        """)

    @Option(name: .long, help: "The core file to read.")
    var file: String

    @Option(name: .long, help: "The program that dumped it (default: the file the core names).")
    var exe: String?

    @Option(name: .customLong("log-dir"), help: "Write the report into this directory (default: the configured output_dir, else the current directory).")
    var logDir: String?

    @Option(name: .long, help: "The configuration file (default: $INVOKER_CONFIG, else /etc/invoker/invoker.conf).")
    var config: String?

    func run() throws {
        StandardDescriptors.ensureOpen()
        Diagnostics.bootstrap(syslog: false, ident: "invoker")
        let logger = Logger(label: "invoker")
        let configuration: Configuration
        do {
            configuration = try ChainAssembly.configuration(
                file: ConfigurationLoader.locate(explicit: config, environment: LogDirectory.currentEnvironment()),
                commandLineTracers: [], environmentTracer: nil, exec: nil)
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }
        let started = Deadline.now()
        let dump: CoreDump
        do {
            dump = try CoreFileReader.read(path: file, executable: exe)
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }
        var status = stat()
        let time = stat(file, &status) == 0 ? Int(status.st_mtim.tv_sec) : Int(Glibc.time(nil))
        let report = CoreReport.make(from: dump, time: time, readSeconds: Deadline.now().seconds(since: started))
        var directory = LogDirectory(path: logDir ?? configuration.outputDirectory ?? LogDirectory.currentDirectory(),
                                     source: logDir != nil ? "--log-dir" : configuration.outputDirectory != nil ? "output_dir" : "current directory")
        directory.problem = LogDirectory.usabilityProblem(directory)
        if let problem = directory.problem {
            printToStandardError(problem)
            throw ExitCode(1)
        }
        let writer = ReportWriter(directory: directory, formats: configuration.formats, retention: configuration.retention,
                                  prefix: "crash", time: time, logger: logger, layout: configuration.logLayout,
                                  groupThreads: configuration.groupThreads)
        if !writer.writeFinal(report, replacing: nil) { throw ExitCode(1) }
    }
}
