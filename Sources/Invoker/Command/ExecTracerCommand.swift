// ExecTracerCommand: `invoker exec-tracer [--uid U --gid G --groups G1,G2] -- PROGRAM ARGS…`
// (internal, not listed in --help) starts an external tracer the way a shell would: every signal
// at its default disposition and none blocked, as the given user if one is given, then PROGRAM
// in this process. The dispatcher starts every external tracer through it.
//
// Why not leave both to swift-subprocess:
// * Its child inherits the blocked-signal mask of the thread that spawns it, a libdispatch worker
//   that blocks SIGCHLD among others (seen here: SigBlk fffffffe3bfbea27 in every tracer). gdb 13
//   waits for its attached threads' stops by SIGCHLD: with it blocked, whenever those stops came
//   late gdb slept in select until its timeout, and left the server stopped.
// * For userID/groupID/supplementaryGroups it creates the child with a raw clone3, so glibc in the
//   child still believes the parent's other threads exist, and setgroups/setgid/setuid, which
//   glibc applies to every thread (__nptl_setxid), can wait forever for one that is not there
//   (seen here: the child stuck in setxid_mark_thread, the helper stuck reading its exec-error
//   pipe, the crashed server waiting for both).
// Here both happen in a process that posix_spawn made and that exec'd us, where glibc's view of
// its threads is right, immediately before the exec of PROGRAM.
//
// Running as root, PROGRAM is checked once more here, right before it runs (TrustedFile: the file
// and every directory above it root's alone), and executed from the descriptor that was checked
// (fexecve), so a file swapped in after the check is never the one run. With
// --environment-from-prefix, the program's environment arrives as INVOKER_TRACER_ENV_NAME=value
// variables, which mean nothing to the dynamic loader: a tracer's LD_PRELOAD or LD_LIBRARY_PATH
// then applies to PROGRAM only, never to this root launcher.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CInvokerShim
import SystemPackage
import TracerKit
import Tracers

struct ExecTracerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec-tracer",
        abstract: "Start an external tracer with default signals, as another user if asked (used by invoker itself).",
        shouldDisplay: false)

    @Option(name: .long, help: "The user id to run as (with --gid).")
    var uid: UInt32?

    @Option(name: .long, help: "The group id to run as (with --uid).")
    var gid: UInt32?

    @Option(name: .long, help: "The supplementary groups, comma-separated (with --uid; default: none).")
    var groups: String = ""

    @Flag(name: .customLong("environment-from-prefix"),
          help: "Give PROGRAM exactly the INVOKER_TRACER_ENV_* variables, without the prefix (default: our environment).")
    var environmentFromPrefix = false

    static var environmentPrefix: String { ExternalTracer.environmentPrefix }

    @Argument(parsing: .postTerminator, help: "The program (a path, not searched for) and its arguments, after --.")
    var command: [String] = []

    /// Exit statuses as a shell gives them: 126, could not become the user or the program was
    /// refused; 127, could not execute.
    static let cannotSwitch: Int32 = 126, cannotExecute: Int32 = 127, refused: Int32 = 126

    func validate() throws {
        // No PATH search, as for every tracer: a relative path is relative to the working directory.
        guard let program = command.first, !program.isEmpty else { throw ValidationError("give the program after --") }
        guard (uid == nil) == (gid == nil) else { throw ValidationError("give --uid and --gid together") }
        guard groups.split(separator: ",").allSatisfy({ UInt32($0) != nil }) else {
            throw ValidationError("--groups must be group ids separated by commas, not \(groups)")
        }
    }

    func run() throws {
        Self.resetSignals()
        let program: FileDescriptor
        switch TrustedFile.open(command[0]) {
        case .success(let (fd, _)): program = fd
        case .failure(.unavailable(_, let error)):
            printToStandardError("invoker exec-tracer: cannot execute \(command[0]): \(error.sentence)")
            throw ExitCode(Self.cannotExecute)
        case .failure(let refusal):
            printToStandardError("invoker exec-tracer: " + refusal.sentence("a tracer"))
            throw ExitCode(Self.refused)
        }
        // A script is run by its interpreter through /dev/fd/N: that descriptor must stay open.
        if Self.mayBeScript(program) { _ = fcntl(program.rawValue, F_SETFD, 0) }
        let environment = environmentFromPrefix ? Self.unprefixed(LogDirectory.currentEnvironment()) : nil
        if let uid, let gid {
            // Started by a helper that still has effective uid trafficserver (real uid 0, under
            // traffic_manager): setgroups and setgid need effective uid 0 back first.
            _ = TracerPrivileges.regainRootIfPermitted()
            let list = groups.split(separator: ",").compactMap { gid_t($0) }
            // The order matters: supplementary groups and the group need root, which setuid drops.
            if setgroups(list.count, list) != 0 { try fail("cannot set the supplementary groups \(groups)", Self.cannotSwitch) }
            if setgid(gid) != 0 { try fail("cannot set group id \(gid)", Self.cannotSwitch) }
            if setuid(uid) != 0 { try fail("cannot set user id \(uid)", Self.cannotSwitch) }
        }
        // glibc's own signals last, right before the exec (nothing here uses them any more):
        // the posix_spawn that started us left them ignored, and an ignored signal stays ignored
        // in PROGRAM.
        for signal in [Int32(32), 33] { _ = ivk_reset_signal_to_default(signal) }
        let argv = command.map { strdup($0) } + [nil]
        if let environment {
            let envp = environment.map { strdup($0.key + "=" + $0.value) } + [nil]
            fexecve(program.rawValue, argv, envp)
        } else {
            fexecve(program.rawValue, argv, environ)
        }
        try fail("cannot execute \(command[0])", Self.cannotExecute)
    }

    /// The variables passed as PREFIX+NAME=value, as NAME=value.
    static func unprefixed(_ environment: [String: String]) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix(environmentPrefix) && key.count > environmentPrefix.count {
            result[String(key.dropFirst(environmentPrefix.count))] = value
        }
        return result
    }

    /// Whether the file starts with "#!" (or cannot be read to tell).
    static func mayBeScript(_ fd: FileDescriptor) -> Bool {
        var magic: (UInt8, UInt8) = (0, 0)
        let count = withUnsafeMutableBytes(of: &magic) { pread(fd.rawValue, $0.baseAddress, 2, 0) }
        return count != 2 || (magic.0 == UInt8(ascii: "#") && magic.1 == UInt8(ascii: "!"))
    }

    /// Every catchable signal to its default action, and none blocked: what a program expects to
    /// start with. (glibc's sigaction refuses its own internal signals, 32 and 33: run() resets
    /// those with the system call just before the exec.)
    static func resetSignals() {
        for signal in 1..<Int32(65) where signal != SIGKILL && signal != SIGSTOP {
            _ = Glibc.signal(signal, SIG_DFL)
        }
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
    }

    private func fail(_ what: String, _ status: Int32) throws -> Never {
        let code = errno
        printToStandardError("invoker exec-tracer: \(what): \(Errno(rawValue: code).sentence)")
        throw ExitCode(status)
    }
}
