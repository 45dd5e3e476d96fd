// JSONTreeEncoder: Swift's Encoder over JSONTree, for the JSON report (JSONTree says why). It
// encodes as Foundation's JSONEncoder does with its default strategies (numbers as JSONEncoder
// writes them: a Double's shortest text, without a trailing ".0"; nil as null; a Dictionary with
// String keys an object), except a NaN or infinite number: null, where JSONEncoder refuses the
// whole document (one collector's division by zero would have cost the report).

/// Encodes an Encodable value into a JSONTree.
struct JSONTreeEncoder {
    /// The value as a tree; throws what the value's encode(to:) throws.
    static func tree<Value: Encodable>(of value: Value) throws -> JSONTree {
        let encoder = TreeEncoder()
        try value.encode(to: encoder)
        return encoder.result ?? .object(JSONTreeObject())
    }

    /// A floating-point number's text as JSONEncoder writes it; null for what JSON has no number for.
    static func number<Value: BinaryFloatingPoint & LosslessStringConvertible>(_ value: Value) -> JSONTree {
        guard value.isFinite else { return .null }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return .number(text)
    }
}

/// The Encoder a value's encode(to:) talks to: its one value, set by whichever container it asks for.
private final class TreeEncoder: Encoder {
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var result: JSONTree?

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object(let object) = result { return KeyedEncodingContainer(KeyedTreeContainer(object: object)) }
        let object = JSONTreeObject()
        result = .object(object)
        return KeyedEncodingContainer(KeyedTreeContainer(object: object))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let array) = result { return UnkeyedTreeContainer(array: array) }
        let array = JSONTreeArray()
        result = .array(array)
        return UnkeyedTreeContainer(array: array)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValueTreeContainer(encoder: self) }
}

private struct KeyedTreeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: JSONTreeObject
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws { object.set(.null, for: key.stringValue) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { object.set(.bool(value), for: key.stringValue) }
    mutating func encode(_ value: String, forKey key: Key) throws { object.set(.string(value), for: key.stringValue) }
    mutating func encode(_ value: Double, forKey key: Key) throws { object.set(JSONTreeEncoder.number(value), for: key.stringValue) }
    mutating func encode(_ value: Float, forKey key: Key) throws { object.set(JSONTreeEncoder.number(value), for: key.stringValue) }
    mutating func encode(_ value: Int, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { object.set(.number(String(value)), for: key.stringValue) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        object.set(try JSONTreeEncoder.tree(of: value), for: key.stringValue)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONTreeObject()
        object.set(.object(nested), for: key.stringValue)
        return KeyedEncodingContainer(KeyedTreeContainer<NestedKey>(object: nested))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = JSONTreeArray()
        object.set(.array(nested), for: key.stringValue)
        return UnkeyedTreeContainer(array: nested)
    }

    mutating func superEncoder() -> any Encoder { SuperEncoder(object: object, key: "super") }
    mutating func superEncoder(forKey key: Key) -> any Encoder { SuperEncoder(object: object, key: key.stringValue) }
}

/// A container that takes one value at a time (an array's next element, or the encoder's one
/// value): every primitive becomes its JSONTree here, once for both.
private protocol TreeValueSink {
    mutating func put(_ value: JSONTree)
}

extension TreeValueSink {
    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ value: Bool) throws { put(.bool(value)) }
    mutating func encode(_ value: String) throws { put(.string(value)) }
    mutating func encode(_ value: Double) throws { put(JSONTreeEncoder.number(value)) }
    mutating func encode(_ value: Float) throws { put(JSONTreeEncoder.number(value)) }
    mutating func encode(_ value: Int) throws { put(.number(String(value))) }
    mutating func encode(_ value: Int8) throws { put(.number(String(value))) }
    mutating func encode(_ value: Int16) throws { put(.number(String(value))) }
    mutating func encode(_ value: Int32) throws { put(.number(String(value))) }
    mutating func encode(_ value: Int64) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt8) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt16) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt32) throws { put(.number(String(value))) }
    mutating func encode(_ value: UInt64) throws { put(.number(String(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws { put(try JSONTreeEncoder.tree(of: value)) }
}

private struct UnkeyedTreeContainer: UnkeyedEncodingContainer, TreeValueSink {
    let array: JSONTreeArray
    var codingPath: [any CodingKey] { [] }
    var count: Int { array.elements.count }

    mutating func put(_ value: JSONTree) { array.elements.append(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONTreeObject()
        array.elements.append(.object(nested))
        return KeyedEncodingContainer(KeyedTreeContainer<NestedKey>(object: nested))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = JSONTreeArray()
        array.elements.append(.array(nested))
        return UnkeyedTreeContainer(array: nested)
    }

    mutating func superEncoder() -> any Encoder { SuperEncoder(array: array) }
}

private struct SingleValueTreeContainer: SingleValueEncodingContainer, TreeValueSink {
    let encoder: TreeEncoder
    var codingPath: [any CodingKey] { [] }

    mutating func put(_ value: JSONTree) { encoder.result = value }
}

/// A class's superclass part: encoded as a member ("super" or the key given) or an array element.
private final class SuperEncoder: Encoder {
    private let object: JSONTreeObject?
    private let key: String
    private let array: JSONTreeArray?
    private let inner = TreeEncoder()
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(object: JSONTreeObject, key: String) { self.object = object; self.key = key; self.array = nil }
    init(array: JSONTreeArray) { self.object = nil; self.key = ""; self.array = array }

    deinit {
        let value = inner.result ?? .object(JSONTreeObject())
        if let object { object.set(value, for: key) } else { array?.elements.append(value) }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> { inner.container(keyedBy: type) }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { inner.unkeyedContainer() }
    func singleValueContainer() -> any SingleValueEncodingContainer { inner.singleValueContainer() }
}
