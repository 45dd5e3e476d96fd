// TextTable: the columns of `invoker list` and `invoker groups`, left-aligned and padded to the
// widest cell, as coredumpctl prints them.

struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    func render() -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                text += index == cells.count - 1 ? cell : cell.padding(to: widths[index] + 2)
            }
            return text + "\n"
        }
        var out = line(header)
        out.reserveCapacity(rows.count * 120)
        for row in rows { out += line(row) }
        return out
    }
}
