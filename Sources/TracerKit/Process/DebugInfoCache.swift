// DebugInfoCache: separate debug files kept with their DWARF sections uncompressed, by build-id
// (DIR/.build-id/xx/rest.debug, the layout libdwfl searches), so that no crash pays for zlib.
//
// Debian's separate debug files (libc6-dbg's among them) compress their .debug_* sections
// (SHF_COMPRESSED), and libdw inflates every one of them when it opens the file (dwarf_begin):
// 100–160 ms for the C library's on this machine, where the same file stored uncompressed opens
// in 0.15 ms. The variables tracer needs the DWARF of every frame it reads, the C library's
// frames at the bottom of each stack included, while the server is stopped; so a crash with the
// variables tracer paid that inflation as downtime. With a cache, libdwfl is pointed at it
// before the system's debug directory (`activate`), and after a report is written (the server
// no longer waits) every compressed debug file the run used is stored here uncompressed
// (`store`): libelf's elf_compress(scn, 0, 0) on a private copy, then elf_update. The first
// crash that needs a file pays for it once; every later one opens it at the cost of a mmap.
//
// libdw parses what it finds here as root, so the directory must be owned by root (or by the
// user the helper runs as) and writable by nobody else, only debug files owned by root (and
// writable by nobody else) are copied in, and files appear only under their final name once
// complete (a temporary name, then renameat2 RENAME_NOREPLACE).

#if canImport(Glibc)
import Glibc
#endif
import CElfutils
import CInvokerShim
import SystemPackage

/// A directory of uncompressed separate debug files, by build-id (`debug_info_cache`).
public struct DebugInfoCache: Sendable, Equatable {
    /// The cache's directory (absolute).
    public let directory: String
    /// Debug files whose DWARF sections add up to more than this, uncompressed, are not stored
    /// (their decompression would need as much memory).
    public static let maxUncompressedBytes: UInt64 = 512 << 20

    public init(directory: String) { self.directory = directory }

    /// Why the cache could not be used or filled, as a sentence.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case untrusted(directory: String, owner: uid_t, mode: mode_t)
        case notADirectory(String)
        case system(operation: String, path: String, errno: Errno)
        case elf(operation: String, path: String, message: String)
        case tooLarge(path: String, bytes: UInt64)
        case notRootsFile(path: String, owner: uid_t, mode: mode_t)

        public var description: String {
            switch self {
            case .untrusted(let directory, let owner, let mode):
                "the debug-info cache \(directory) is not used: it must be owned by root (or by the helper's user) and not writable by group or others (owner uid \(owner), mode \(String(mode & 0o7777, radix: 8)))"
            case .notADirectory(let path):
                "the debug-info cache \(path) is not used: it is not a directory"
            case .system(let operation, let path, let errno):
                "cannot \(operation) \(path): \(errno.sentence)"
            case .elf(let operation, let path, let message):
                "cannot \(operation) \(path): libelf says \(message)"
            case .notRootsFile(let path, let owner, let mode):
                "\(path) is not stored in the debug-info cache: only a debug file owned by root and not writable by group or others is (owner uid \(owner), mode \(String(mode & 0o7777, radix: 8)))"
            case .tooLarge(let path, let bytes):
                "\(path) is not stored in the debug-info cache: its DWARF is \(bytes >> 20) MiB uncompressed (more than \(DebugInfoCache.maxUncompressedBytes >> 20) MiB)"
            }
        }
    }

    /// Checks the directory (creating it and its missing parents, mode 0755, when it is missing)
    /// and points libdwfl at it ahead of the system's debug directory, for every module index
    /// from now on.
    public func activate() -> Failure? {
        var info = stat()
        // At a crash's wake (this runs in the downtime) the directory is normally there: one lstat.
        if lstat(directory, &info) != 0, let failure = Directories.make(directory, mode: 0o755) {
            return .system(operation: "create the debug-info cache", path: directory, errno: failure)
        }
        guard lstat(directory, &info) == 0 else {
            return .system(operation: "examine the debug-info cache", path: directory, errno: Errno(rawValue: errno))
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { return .notADirectory(directory) }
        guard info.st_uid == 0 || info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            return .untrusted(directory: directory, owner: info.st_uid, mode: info.st_mode)
        }
        // libdwfl's default path (":.debug:/usr/lib/debug") with the cache before the system's.
        _ = ivk_dwfl_set_debuginfo_path(":.debug:\(directory):/usr/lib/debug")
        return nil
    }

    /// Where the debug file of `buildID` (lowercase hex) is kept.
    public func path(forBuildID buildID: String) -> String {
        "\(directory)/.build-id/\(buildID.prefix(2))/\(buildID.dropFirst(2)).debug"
    }

    /// Whether `path` is a file of this cache.
    public func holds(_ path: String) -> Bool { path.hasPrefix(directory + "/") }

    /// Stores an uncompressed copy of debug file `file` (of `buildID`), unless the cache has it
    /// or the file has no compressed section. Returns whether a copy was stored.
    public func store(_ file: String, buildID: String) -> Result<Bool, Failure> {
        let target = path(forBuildID: buildID)
        guard buildID.count > 2, buildID.allSatisfy(\.isHexDigit), access(target, F_OK) != 0 else { return .success(false) }
        let source: FileDescriptor
        do {
            source = try FileDescriptor.open(FilePath(file), .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch {
            return .failure(.system(operation: "open", path: file, errno: error as? Errno ?? .noSuchFileOrDirectory))
        }
        defer { try? source.close() }
        // Only what root put there (the debug packages' files) becomes a file every later run trusts.
        var info = stat()
        guard fstat(source.rawValue, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            return .failure(.system(operation: "examine", path: file, errno: Errno(rawValue: errno)))
        }
        guard info.st_uid == 0, info.st_mode & 0o022 == 0 else { return .failure(.notRootsFile(path: file, owner: info.st_uid, mode: info.st_mode)) }
        switch Self.compressedBytes(source, path: file) {
        case .failure(let failure): return .failure(failure)
        case .success(0): return .success(false)
        case .success(let bytes) where bytes > Self.maxUncompressedBytes: return .failure(.tooLarge(path: file, bytes: bytes))
        case .success: break
        }
        let folder = String(target[..<target.lastIndex(of: "/")!])
        for directory in [self.directory + "/.build-id", folder] where mkdir(directory, 0o755) != 0 && errno != EEXIST {
            return .failure(.system(operation: "create", path: directory, errno: Errno(rawValue: errno)))
        }
        let temporary = "\(folder)/.\(buildID.dropFirst(2)).\(getpid()).tmp"
        let copy: FileDescriptor
        do {
            copy = try FileDescriptor.open(FilePath(temporary), .readWrite, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                                           permissions: [.ownerReadWrite, .groupRead, .otherRead], retryOnInterrupt: true)
        } catch {
            return .failure(.system(operation: "create", path: temporary, errno: error as? Errno ?? .ioError))
        }
        var stored = false
        defer {
            try? copy.close()
            if !stored { unlink(temporary) }
        }
        if let failure = Self.copy(source, to: copy, from: file, into: temporary) ?? Self.decompress(copy, path: temporary) {
            return .failure(failure)
        }
        if fsync(copy.rawValue) != 0 {
            return .failure(.system(operation: "sync", path: temporary, errno: Errno(rawValue: errno)))
        }
        // Another run may have stored it meanwhile: theirs stays.
        if ivk_rename_noreplace(temporary, target) != 0 {
            return errno == EEXIST ? .success(false) : .failure(.system(operation: "rename into place", path: target, errno: Errno(rawValue: errno)))
        }
        stored = true
        return .success(true)
    }

    /// The uncompressed size of the file's compressed sections (0: none compressed).
    private static func compressedBytes(_ fd: FileDescriptor, path: String) -> Result<UInt64, Failure> {
        elf_version(UInt32(EV_CURRENT))
        guard let elf = elf_begin(fd.rawValue, ELF_C_READ_MMAP, nil) else {
            return .failure(.elf(operation: "read", path: path, message: String(cString: elf_errmsg(-1))))
        }
        defer { elf_end(elf) }
        var total: UInt64 = 0
        var section: OpaquePointer? = nil
        while let next = elf_nextscn(elf, section) {
            section = next
            var header = GElf_Shdr()
            var compression = GElf_Chdr()
            guard gelf_getshdr(next, &header) != nil, header.sh_flags & UInt64(SHF_COMPRESSED) != 0,
                  gelf_getchdr(next, &compression) != nil else { continue }
            total += compression.ch_size
        }
        return .success(total)
    }

    /// Copies `source` into `target`, whole.
    private static func copy(_ source: FileDescriptor, to target: FileDescriptor, from sourcePath: String, into targetPath: String) -> Failure? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count: Int
            do { count = try source.read(into: buffer, retryOnInterrupt: true) } catch {
                return .system(operation: "read", path: sourcePath, errno: error as? Errno ?? .ioError)
            }
            if count == 0 { return nil }
            do { _ = try target.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<count])) } catch {
                return .system(operation: "write", path: targetPath, errno: error as? Errno ?? .ioError)
            }
        }
    }

    /// Decompresses every compressed section of the ELF file open at `fd`, in place (libelf lays
    /// the file out again).
    private static func decompress(_ fd: FileDescriptor, path: String) -> Failure? {
        guard let elf = elf_begin(fd.rawValue, ELF_C_RDWR, nil) else {
            return .elf(operation: "open for update", path: path, message: String(cString: elf_errmsg(-1)))
        }
        defer { elf_end(elf) }
        var section: OpaquePointer? = nil
        while let next = elf_nextscn(elf, section) {
            section = next
            var header = GElf_Shdr()
            guard gelf_getshdr(next, &header) != nil, header.sh_flags & UInt64(SHF_COMPRESSED) != 0 else { continue }
            if elf_compress(next, 0, 0) < 0 {
                return .elf(operation: "decompress a section of", path: path, message: String(cString: elf_errmsg(-1)))
            }
        }
        if elf_update(elf, ELF_C_WRITE) < 0 {
            return .elf(operation: "write", path: path, message: String(cString: elf_errmsg(-1)))
        }
        return nil
    }
}

extension DebugInfoCache {
    /// What `fill(from:)` did with one separate debug file.
    public struct Entry: Sendable, Equatable {
        public var file: ModuleIndex.SeparateDebugFile
        /// Stored now (true), or already there or with nothing compressed (false); or why not.
        public var outcome: Result<Bool, Failure>
    }

    /// Stores every compressed separate debug file of `modules`' modules (libdwfl looks each
    /// module's DWARF up, finding its debug file by build-id or debuglink, in the cache first
    /// once it is active), ahead of a crash.
    public func fill(from modules: ModuleIndex) -> [Entry] {
        for module in modules.handles() {
            var bias: Dwarf_Addr = 0
            _ = dwfl_module_getdwarf(module, &bias)
        }
        // A file libdwfl found in the cache itself is there already.
        return modules.openedDebugFiles().map { file in
            Entry(file: file, outcome: holds(file.path) ? .success(false) : store(file.path, buildID: file.buildID))
        }
    }
}

extension DebugInfoCache {
    /// One stored debug file: where, how large on disk, when last used.
    public struct StoredFile: Sendable, Equatable {
        public var path: String
        public var bytes: UInt64
        public var lastUsed: Int
    }

    /// The debug files the cache holds (DIR/.build-id/xx/rest.debug), oldest use first.
    public func storedFiles() -> [StoredFile] {
        var files: [StoredFile] = []
        let top = directory + "/.build-id"
        for folder in ProcFile.entries(of: top) where folder.count == 2 && folder.allSatisfy(\.isHexDigit) {
            for name in ProcFile.entries(of: top + "/" + folder) where name.hasSuffix(".debug") && !name.hasPrefix(".") {
                let path = "\(top)/\(folder)/\(name)"
                var info = stat()
                guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                files.append(StoredFile(path: path, bytes: UInt64(info.st_blocks) * 512, lastUsed: info.st_mtim.tv_sec))
            }
        }
        return files.sorted { ($0.lastUsed, $0.path) < ($1.lastUsed, $1.path) }
    }

    /// Marks the cache's files in `paths` as used now (their modification time: the cache never
    /// rewrites a file, so that time is free to say when a run last read it).
    public func markUsed(_ paths: [String]) {
        for path in paths where holds(path) {
            _ = utimensat(AT_FDCWD, path, nil, AT_SYMLINK_NOFOLLOW)
        }
    }

    /// After a run that read `files` (and stored what it could): marks those the cache held as
    /// used, then removes the least recently used files past `limit` bytes, never one of `files`
    /// (as read from the cache, or as stored under its build-id). Returns the removed files.
    @discardableResult
    public func keep(within limit: UInt64, afterRunThatRead files: [ModuleIndex.SeparateDebugFile]) -> [StoredFile] {
        markUsed(files.map(\.path))
        return prune(limit: limit, sparing: Set(files.map { holds($0.path) ? $0.path : path(forBuildID: $0.buildID) }))
    }

    /// Removes the least recently used files until the cache holds at most `limit` bytes, never
    /// one of `sparing`. Returns the removed files.
    @discardableResult
    public func prune(limit: UInt64, sparing: Set<String> = []) -> [StoredFile] {
        let files = storedFiles()
        var total = files.reduce(0) { $0 + $1.bytes }
        var removed: [StoredFile] = []
        for file in files where total > limit && !sparing.contains(file.path) {
            if unlink(file.path) == 0 {
                total -= file.bytes
                removed.append(file)
            }
        }
        return removed
    }
}
