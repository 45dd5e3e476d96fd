// SentryEnvelope: Sentry's envelope format: a JSON header line, then items, each a JSON item
// header line (type, length, and for attachments filename and content_type) and its payload.
// One envelope per report: the event, then the text log and the JSON report as attachments.

import FoundationEssentials

struct SentryEnvelope {
    struct Item {
        var header: [String: JSONValue]
        var payload: [UInt8]
    }

    let eventID: String
    var items: [Item] = []

    init(eventID: String, event: [UInt8]) {
        self.eventID = eventID
        items.append(Item(header: ["type": "event", "length": .integer(Int64(event.count))], payload: event))
    }

    /// Adds a file as an attachment.
    mutating func attach(_ bytes: [UInt8], filename: String, contentType: String) {
        items.append(Item(header: ["type": "attachment", "length": .integer(Int64(bytes.count)),
                                   "filename": .string(filename), "content_type": .string(contentType),
                                   "attachment_type": "event.attachment"],
                          payload: bytes))
    }

    /// The envelope's bytes (not compressed). The header has the event id and the time it was
    /// made, not the DSN: the outbox keeps no key, and a retry goes to the DSN configured then.
    func encoded(sentAt: String) -> [UInt8] {
        var bytes = JSONValue.object(["event_id": .string(eventID), "sent_at": .string(sentAt)]).encoded()
        bytes.append(0x0a)
        for item in items {
            bytes += JSONValue.object(item.header).encoded()
            bytes.append(0x0a)
            bytes += item.payload
            bytes.append(0x0a)
        }
        return bytes
    }

    /// The items of envelope bytes, for `invoker send --print` and the tests: (header, payload).
    static func parse(_ bytes: [UInt8]) throws -> (header: JSONValue, items: [(header: JSONValue, payload: [UInt8])]) {
        var position = 0
        func line() -> ArraySlice<UInt8> {
            let end = bytes[position...].firstIndex(of: 0x0a) ?? bytes.count
            defer { position = min(end + 1, bytes.count) }
            return bytes[position..<end]
        }
        let header = try JSONValue.decode(Array(line()))
        var items: [(JSONValue, [UInt8])] = []
        while position < bytes.count {
            let itemHeaderLine = line()
            if itemHeaderLine.isEmpty { continue }
            let itemHeader = try JSONValue.decode(Array(itemHeaderLine))
            if let length = itemHeader["length"]?.integerValue {
                let end = min(position + Int(length), bytes.count)
                items.append((itemHeader, Array(bytes[position..<end])))
                position = min(end + 1, bytes.count)
            } else {
                items.append((itemHeader, Array(line())))
            }
        }
        return (header, items)
    }
}
