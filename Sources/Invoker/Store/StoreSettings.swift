// StoreSettings: the `[store]` table of invoker.conf: the crash store, crash-loop protection and
// the store's size and age limits.

/// How the crash store indexes, limits and prunes reports.
struct StoreSettings: Equatable {
    /// Index reports in `<output_dir>/.invoker-store.sqlite` (and apply the limits below).
    var enabled = true
    /// Full reports of one fingerprint within `loopWindow` before further crashes get compact records.
    var loopReports = 3
    /// Seconds the crash-loop count looks back.
    var loopWindow: Double = 3600
    /// Bytes of report files the store keeps (oldest first within the biggest groups go); 0: no limit.
    var maxStoreBytes = 256 << 20
    /// Days a report is kept (a group's first report is always kept); 0: no limit.
    var maxAgeDays: Double = 90

    /// The store's file name in the output directory.
    static let fileName = ".invoker-store.sqlite"
}
