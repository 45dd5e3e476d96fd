// Hex: addresses and codes as reports print them, "0x7f3a…" (lowercase, no padding).

extension BinaryInteger {
    /// "0x" and the value in lowercase hexadecimal.
    public var hex: String { "0x" + String(self, radix: 16) }
}
