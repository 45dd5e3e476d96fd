// ResolveCommand: `invoker resolve FINGERPRINT` marks a crash group fixed. A later crash of the
// group from a build not seen before the mark is reported as a regression (and reopens it).

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

struct ResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Mark a crash group resolved; a later crash of it in another build is a regression.")

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The group's fingerprint (fp1:…, a prefix is enough).", valueName: "fingerprint"))
    var fingerprint: String

    func run() throws {
        guard let crashStore = try store.openStore(readOnly: false) else { throw CommandFailure(.nothing) }
        let matches = try storeOperation { () throws(StoreError) in try crashStore.fingerprints(matching: fingerprint) }
        guard matches.count == 1, let match = matches.first else {
            throw CommandFailure(.nothing, matches.isEmpty
                                 ? "invoker: no crash group has the fingerprint \(fingerprint) (`invoker groups` lists them)"
                                 : "invoker: \(fingerprint) matches \(matches.count) fingerprints: give more of it")
        }
        try storeOperation { () throws(StoreError) in try crashStore.resolve(match, now: Int(time(nil))) }
        print("\(match): resolved; a crash of it from a build not seen so far will be reported as a regression")
    }
}
