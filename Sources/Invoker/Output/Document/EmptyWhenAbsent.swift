// EmptyWhenAbsent: a list or map of a document that a reader takes as empty when the document does
// not have it (`invoker show` renders a minimal report: schema, process and threads). Encoded as
// the value itself, so what is written is unchanged.

import FoundationEssentials

/// A collection that has an empty value to stand for "absent".
protocol EmptyWhenAbsentValue: Codable, Equatable {
    static var emptyValue: Self { get }
}

extension Array: EmptyWhenAbsentValue where Element: Codable & Equatable {
    static var emptyValue: Self { [] }
}

extension Dictionary: EmptyWhenAbsentValue where Key == String, Value: Codable & Equatable {
    static var emptyValue: Self { [:] }
}

/// A document's list or map: decoded as empty when its key is absent.
@propertyWrapper
struct EmptyWhenAbsent<Value: EmptyWhenAbsentValue>: Codable, Equatable {
    var wrappedValue: Value

    init(wrappedValue: Value) { self.wrappedValue = wrappedValue }

    init(from decoder: any Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode(Value.self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

extension EmptyWhenAbsent: Sendable where Value: Sendable {}

extension KeyedDecodingContainer {
    /// The synthesized decoders' call for an `EmptyWhenAbsent` property: an absent key is empty.
    func decode<Value>(_ type: EmptyWhenAbsent<Value>.Type, forKey key: Key) throws -> EmptyWhenAbsent<Value> {
        try decodeIfPresent(type, forKey: key) ?? EmptyWhenAbsent(wrappedValue: .emptyValue)
    }
}
