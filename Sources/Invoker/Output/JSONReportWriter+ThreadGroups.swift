// JSONReportWriter+ThreadGroups: the JSON report's `thread_groups`: the threads with identical
// stacks (ThreadGrouping), in the text log's print order. Every thread stays in `threads`, with
// the id of its group; the groups' sizes add up to the thread count.

import TracerKit

extension JSONReportWriter {
    struct ThreadGroupDTO: Encodable {
        var id: Int
        /// How many threads share the stack.
        var count: Int
        /// Whether this is the crashing thread's group (always of one).
        var crashed: Bool
        /// The members' tids, in the order `names` expands to.
        var tids: [Int32]
        /// The members' names, compressed ("[ET_NET 0..83]").
        var names: String

        init(_ group: ThreadGroup, _ threads: [ThreadReport]) {
            let members = group.members.map { threads[$0] }
            id = group.id; count = group.count; crashed = group.isCrashing
            tids = members.map(\.tid)
            names = ThreadGrouping.compressedNames(members.map(\.name))
        }
    }
}
