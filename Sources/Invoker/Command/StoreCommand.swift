// StoreCommand: `invoker store rebuild` makes the crash store again from the JSON reports in the
// directory (the files are the source of truth; a store that is corrupt or not invoker's is set
// aside first), `invoker store prune` applies max_store_bytes and max_age_days now.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Maintain the crash store: rebuild it from the reports, or prune it to its limits.",
        subcommands: [Rebuild.self, Prune.self])

    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild the crash store from the JSON reports (resolved marks are kept).")

        @OptionGroup var store: StoreOptions

        func run() throws {
            let directory = store.directory(try store.configuration())
            let crashStore: CrashStore
            do {
                crashStore = try CrashStore.open(directory: directory, readOnly: false)!
            } catch {
                // Unusable (corrupt, another program's): keep it for inspection, start a new one.
                let path = CrashStore.path(in: directory), aside = path + ".broken-\(time(nil))"
                printToStandardError("invoker: \(error.description); moved to \(aside)")
                for suffix in ["", "-wal", "-shm"] { rename(path + suffix, aside + suffix) }
                crashStore = try storeOperation { () throws(StoreError) in try CrashStore.open(directory: directory, readOnly: false)! }
            }
            let files = ReportIndexer.jsonReports(in: directory)
            let entries = files.compactMap(StoreEntry.read(jsonPath:)).sorted { ($0.time, $0.textPath) < ($1.time, $1.textPath) }
            try storeOperation { () throws(StoreError) in try crashStore.rebuild(from: entries, now: Int(time(nil))) }
            let groups = Set(entries.map(\.fingerprint)).count
            print("\(crashStore.path): \(entries.count) reports in \(groups) groups indexed from \(files.count) JSON reports"
                  + (files.count > entries.count ? " (\(files.count - entries.count) without a fingerprint or unreadable, skipped)" : ""))
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the reports beyond max_store_bytes and max_age_days (a group's first report stays).")

        @OptionGroup var store: StoreOptions

        func run() throws {
            let configuration = try store.configuration()
            guard let crashStore = try store.openStore(readOnly: false) else { throw CommandFailure(.nothing) }
            let result = try storeOperation { () throws(StoreError) in
                try StorePruner.prune(crashStore, settings: configuration.store, now: Int(time(nil)), keep: nil)
            }
            print("pruned \(result.reports) reports (\(result.bytes) bytes)")
        }
    }
}
