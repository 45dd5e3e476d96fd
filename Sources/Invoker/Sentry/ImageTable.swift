// ImageTable: the report's modules as Sentry debug images (type elf, code_file, code_id,
// debug_id, image_addr, image_size) and the load address each frame's image_addr refers to.

struct ImageTable {
    private var byPath: [String: ReportDocument.Module] = [:]
    private let ordered: [ReportDocument.Module]

    init(_ modules: [ReportDocument.Module]) {
        var byPath: [String: ReportDocument.Module] = [:]
        var ordered: [ReportDocument.Module] = []
        for module in modules {
            // One image per file: its lowest mapping is where the ELF header is (the load address).
            if let known = byPath[module.path] {
                if (module.start.hexAddress ?? .max) < (known.start.hexAddress ?? .max) { byPath[module.path]?.start = module.start }
                if (module.end.hexAddress ?? 0) > (known.end.hexAddress ?? 0) { byPath[module.path]?.end = module.end }
            } else {
                byPath[module.path] = module
                ordered.append(module)
            }
        }
        self.byPath = byPath
        self.ordered = ordered.map { byPath[$0.path] ?? $0 }
    }

    func start(of path: String) -> String? { byPath[path]?.start }

    /// Sentry's debug_meta.images: every module with a build-id (the others cannot be symbolicated).
    func debugImages() -> [JSONValue] {
        ordered.compactMap { module in
            guard let buildID = module.buildId, let debugID = DebugIdentifier.debugID(buildID: buildID) else { return nil }
            var image: [String: JSONValue] = [
                "type": "elf", "code_file": .string(module.path), "code_id": .string(buildID), "debug_id": .string(debugID),
                "image_addr": .string(module.start),
            ]
            if let start = module.start.hexAddress, let end = module.end.hexAddress, end > start {
                image["image_size"] = .integer(Int64(end - start))
            }
            return .object(image)
        }
    }
}
