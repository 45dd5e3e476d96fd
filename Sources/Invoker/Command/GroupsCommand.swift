// GroupsCommand: `invoker groups [--json]`: one line per fingerprint: how often it crashed,
// first and last seen, the versions it was seen in, and whether it is open or resolved.

import ArgumentParser
import TracerKit

struct GroupsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups",
        abstract: "List the crash groups (one per fingerprint) in the crash store.")

    @OptionGroup var store: StoreOptions

    @Flag(name: .long, help: "Print JSON (an array of groups) instead of a table.")
    var json = false

    func run() throws {
        guard let crashStore = try store.openStore(readOnly: true) else { return }
        let groups = try storeOperation { () throws(StoreError) in try crashStore.groups() }
        if json {
            print(ListCommand.encode(groups))
            return
        }
        var table = TextTable(header: ["FINGERPRINT", "COUNT", "REPORTS", "FIRST SEEN", "LAST SEEN", "SIGNAL", "FAULT", "STATE", "VERSIONS"])
        for group in groups {
            table.rows.append([
                group.fingerprint, String(group.count), String(group.reports),
                CrashLogWriter.format(time: group.firstSeen, "%Y-%m-%d %H:%M:%S"),
                CrashLogWriter.format(time: group.lastSeen, "%Y-%m-%d %H:%M:%S"),
                group.signal.map(ListCommand.signalName) ?? "-", group.faultKind ?? "-", group.state,
                group.versions.joined(separator: ", "),
            ])
        }
        print(table.render(), terminator: "")
    }
}
