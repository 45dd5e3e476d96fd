// TrafficServerVersion: the version of the Traffic Server a report is about ("Traffic Server
// 9.2.9"), as traffic_crashlog prints it on its Version line. Every traffic_server binary holds
// its version banner, "Traffic Server 9.2.9 Apr  4 2026 14:52:39 localhost", as a string: it is
// found by reading the file, never by running it (the binary is the server's, and we run as root).

#if canImport(Glibc)
import Glibc
#endif
import TracerKit

/// Finds a Traffic Server binary's version.
public enum TrafficServerVersion {
    /// Whether `executable` is a Traffic Server (by its file name: traffic_server, as installed).
    public static func isTrafficServer(_ executable: String) -> Bool {
        executable.split(separator: "/").last?.hasPrefix("traffic_server") == true
    }

    /// "Traffic Server 9.2.9", read from the binary at `path` (at most `limit` bytes of it), or
    /// nil when it holds no version banner.
    public static func read(binary path: String, limit: Int = 256 << 20) -> String? {
        guard case .success(let bytes) = ProcFile.readBytes(path, limit: limit) else { return nil }
        return find(in: bytes)
    }

    /// The first "Traffic Server " followed by a dotted version number in `bytes`.
    static func find(in bytes: [UInt8]) -> String? {
        let prefix = Array("Traffic Server ".utf8)
        return bytes.withUnsafeBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, buffer.count > prefix.count else { return nil }
            var offset = 0
            while offset < buffer.count - prefix.count {
                // memchr finds the candidates; a byte loop over a 10 MB binary would be slow.
                guard let hit = memchr(base + offset, Int32(prefix[0]), buffer.count - prefix.count - offset) else { return nil }
                let start = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
                offset = start + 1
                guard memcmp(base + start, prefix, prefix.count) == 0 else { continue }
                var end = start + prefix.count
                while end < buffer.count, end - start < prefix.count + 32,
                      (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(buffer[end]) || buffer[end] == UInt8(ascii: ".") {
                    end += 1
                }
                let version = buffer[(start + prefix.count)..<end]
                guard let first = version.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
                      version.contains(UInt8(ascii: ".")) else { continue }
                return String(decoding: buffer[start..<end], as: UTF8.self)
            }
            return nil
        }
    }
}
