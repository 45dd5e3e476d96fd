// StoreLookup: which indexed report an id or a fingerprint names, for `invoker show` (see
// ReportReference): the id's report, or the latest report of the one group the fingerprint
// prefix matches.

enum StoreLookup {
    static func report(_ reference: ReportReference, in directory: String) throws(ShowError) -> ListedReport {
        let store: CrashStore
        do {
            guard let opened = try CrashStore.open(directory: directory, readOnly: true) else {
                throw ShowError.notIndexed(reason: "there is no crash store in \(directory) (it is made at the first crash, or by `invoker store rebuild`)")
            }
            store = opened
        } catch let error as ShowError {
            throw error
        } catch {
            throw .notIndexed(reason: "\(error)")
        }
        do {
            switch reference {
            case .id(let id):
                guard let report = try store.report(matching: String(id)) else {
                    throw ShowError.notIndexed(reason: "no report has the id \(id) (`invoker list` shows the ids)")
                }
                return report
            case .fingerprint(let prefix):
                let matches = try store.fingerprints(matching: prefix)
                guard matches.count == 1, let report = try store.report(matching: matches[0]) else {
                    throw ShowError.notIndexed(reason: matches.isEmpty
                        ? "no crash group has the fingerprint \(prefix) (`invoker groups` lists them)"
                        : "\(prefix) matches \(matches.count) fingerprints (\(matches.prefix(3).joined(separator: ", "))…): give more of it")
                }
                return report
            default:
                throw ShowError.notIndexed(reason: "only an id or a fingerprint is looked up in the crash store")
            }
        } catch let error as ShowError {
            throw error
        } catch {
            throw .notIndexed(reason: "\(error)")
        }
    }
}
