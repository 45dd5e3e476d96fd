// ModuleIndex+DebugFiles: the separate debug files this session has opened (libdwfl finds them
// by build-id or debuglink when a module's DWARF is first asked for), for the debug-info cache.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils

extension ModuleIndex {
    /// A separate debug file libdwfl opened for a module.
    public struct SeparateDebugFile: Sendable, Equatable {
        /// The module's GNU build-id (lowercase hex).
        public var buildID: String
        /// The debug file's path.
        public var path: String

        public init(buildID: String, path: String) {
            self.buildID = buildID
            self.path = path
        }
    }

    /// The separate debug files opened so far (modules whose DWARF nobody asked for have none).
    public func openedDebugFiles() -> [SeparateDebugFile] {
        handles().compactMap { module in
            var mainFile: UnsafePointer<CChar>? = nil
            var debugFile: UnsafePointer<CChar>? = nil
            _ = dwfl_module_info(module, nil, nil, nil, nil, nil, &mainFile, &debugFile)
            guard let debugFile, mainFile.map({ strcmp($0, debugFile) != 0 }) ?? true else { return nil }
            var bits: UnsafePointer<UInt8>? = nil
            var address: GElf_Addr = 0
            let length = dwfl_module_build_id(module, &bits, &address)
            guard length > 0, let bits else { return nil }
            let buildID = (0..<Int(length)).map { byte in
                let hex = String(bits[byte], radix: 16)
                return hex.count == 1 ? "0" + hex : hex
            }.joined()
            return SeparateDebugFile(buildID: buildID, path: String(cString: debugFile))
        }
    }
}
