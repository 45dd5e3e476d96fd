// ProcFile: bounded reads of small text files under /proc. A crash helper must never hang or run
// away on a file it reads, so every read has a byte cap.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Small-file reading for /proc and /sys.
package enum ProcFile {
    /// Reads at most `limit` bytes of the file at `path`. Returns the bytes, or the `Errno` of the
    /// open or read that failed.
    package static func readBytes(_ path: String, limit: Int = 1 << 20) -> Result<[UInt8], Errno> {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec, .noFollow], retryOnInterrupt: true)
        } catch {
            return .failure(error as? Errno ?? .ioError)
        }
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(limit, 64 * 1024))
        while bytes.count < limit {
            let want = min(chunk.count, limit - bytes.count)
            do {
                let got = try chunk.withUnsafeMutableBytes {
                    try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), retryOnInterrupt: true)
                }
                if got == 0 { return .success(bytes) }
                bytes.append(contentsOf: chunk[0..<got])
            } catch {
                return bytes.isEmpty ? .failure(error as? Errno ?? .ioError) : .success(bytes)
            }
        }
        return .success(bytes)
    }

    /// The file's text (invalid UTF-8 repaired), or nil if it cannot be read.
    package static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        guard case .success(let bytes) = readBytes(path, limit: limit) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The target of the symbolic link at `path` (e.g. /proc/PID/exe), or nil.
    package static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in a directory ("." and ".." left out), sorted; empty if unreadable.
    package static func entries(of directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var result: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result.sorted()
    }

    /// The numeric entries of a /proc directory such as /proc/PID/task, sorted; empty if unreadable.
    package static func numericEntries(of directory: String) -> [Int32] {
        entries(of: directory).compactMap { Int32($0) }.sorted()
    }

    /// The names of threads `tids` of `pid` (/proc/PID/task/TID/comm, trimmed), in that order; ""
    /// for a thread whose name cannot be read. One directory descriptor for all of them and a
    /// fixed buffer each (names are at most 16 bytes): read for every thread during a crash's
    /// downtime, where a path lookup and an allocation per thread added up to milliseconds.
    package static func threadNames(pid: Int32, tids: [Int32]) -> [String] {
        let task = open("/proc/\(pid)/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard task >= 0 else { return tids.map { _ in "" } }
        defer { close(task) }
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return tids.map { tid in
            // openat relative to the task directory (swift-system has no openat).
            let fd = openat(task, "\(tid)/comm", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { return "" }
            defer { close(fd) }
            return withUnsafeMutableBytes(of: &buffer) { raw in
                var got = 0
                while got < raw.count {
                    let count = read(fd, raw.baseAddress! + got, raw.count - got)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    got += count
                }
                return String(decoding: raw.prefix(got), as: UTF8.self).trimmingWhitespace()
            }
        }
    }

    /// The value of a `Key:\tvalue` line in a /proc status-style text, trimmed.
    package static func field(_ key: String, in text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return line.dropFirst(key.count + 1).trimmingWhitespace()
        }
        return nil
    }
}

extension Substring {
    package func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}

extension String {
    package func trimmingWhitespace() -> String { self[...].trimmingWhitespace() }
}
