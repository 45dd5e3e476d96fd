// DebugIdentifier: Sentry's identifiers of an ELF image from its GNU build-id (the rule of
// getsentry/symbolic's ELF debug ids, which native symbolication matches files by):
// `code_id` is the whole build-id in hex; `debug_id` is its first 16 bytes (zero-padded when
// shorter), read as a little-endian GUID, i.e. bytes 0–3, 4–5 and 6–7 each reversed, written as a UUID.

enum DebugIdentifier {
    /// The debug id of a build-id given in hex ("b5381a457906d279…"), or nil if it is not hex.
    static func debugID(buildID hex: String) -> String? {
        guard let bytes = bytes(hex), !bytes.isEmpty else { return nil }
        var guid = Array(bytes.prefix(16)) + Array(repeating: 0, count: max(0, 16 - bytes.count))
        guid[0..<4].reverse()
        guid[4..<6].reverse()
        guid[6..<8].reverse()
        let digits = guid.map { byte in String(byte, radix: 16).leftPadded(to: 2) }
        return [digits[0..<4], digits[4..<6], digits[6..<8], digits[8..<10], digits[10..<16]]
            .map { $0.joined() }.joined(separator: "-")
    }

    /// The bytes of a hex string, nil if it has an odd length or a non-hex character.
    static func bytes(_ hex: String) -> [UInt8]? {
        let characters = Array(hex.utf8)
        guard characters.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let byte = UInt8(String(decoding: characters[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
            index += 2
        }
        return bytes
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
