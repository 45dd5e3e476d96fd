// RunAsCommand: `invoker run-as --uid U --gid G [--groups G1,G2] -- PROGRAM ARGS…` (internal,
// not listed in --help) becomes another user and executes PROGRAM. External tracers that run as
// the server's user (or a configured `user`) start through it.
//
// Why not swift-subprocess's userID/groupID/supplementaryGroups: for those it creates the child
// with a raw clone3 system call, so glibc in the child still believes the parent's other threads
// exist, and setgroups/setgid/setuid, which glibc must apply to every thread (__nptl_setxid), can
// wait forever for one that is not there (seen here: the child stuck in setxid_mark_thread, the
// parent stuck reading the child's exec-error pipe, the crashed server waiting for both). Here the
// switch runs in a process that posix_spawn made and that exec'd us, where glibc's view of its
// threads is right, immediately before the exec of PROGRAM.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import SystemPackage
import TracerKit

struct RunAsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-as",
        abstract: "Run a program as another user (used by invoker for its external tracers).",
        shouldDisplay: false)

    @Option(name: .long, help: "The user id to run as.")
    var uid: UInt32

    @Option(name: .long, help: "The group id to run as.")
    var gid: UInt32

    @Option(name: .long, help: "The supplementary groups, comma-separated (default: none).")
    var groups: String = ""

    @Argument(parsing: .postTerminator, help: "The program (an absolute path) and its arguments, after --.")
    var command: [String] = []

    /// Exit statuses as a shell gives them: 126, could not become the user; 127, could not execute.
    static let cannotSwitch: Int32 = 126, cannotExecute: Int32 = 127

    func validate() throws {
        guard let program = command.first, program.hasPrefix("/") else {
            throw ValidationError("give the program as an absolute path after --")
        }
        guard groups.split(separator: ",").allSatisfy({ UInt32($0) != nil }) else {
            throw ValidationError("--groups must be group ids separated by commas, not \(groups)")
        }
    }

    func run() throws {
        let list = groups.split(separator: ",").compactMap { gid_t($0) }
        // The order matters: supplementary groups and the group need root, which setuid drops.
        if setgroups(list.count, list) != 0 { try fail("cannot set the supplementary groups \(groups)", Self.cannotSwitch) }
        if setgid(gid) != 0 { try fail("cannot set group id \(gid)", Self.cannotSwitch) }
        if setuid(uid) != 0 { try fail("cannot set user id \(uid)", Self.cannotSwitch) }
        let argv = command.map { strdup($0) } + [nil]
        execv(command[0], argv)
        try fail("cannot execute \(command[0])", Self.cannotExecute)
    }

    private func fail(_ what: String, _ status: Int32) throws -> Never {
        let code = errno
        printToStandardError("invoker run-as: \(what): \(Errno(rawValue: code).sentence)")
        throw ExitCode(status)
    }
}
