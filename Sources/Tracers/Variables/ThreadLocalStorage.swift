// ThreadLocalStorage: where a module's thread-local variables live in one thread of the target,
// found the way glibc's libthread_db finds it (td_thr_tls_get_addr), from the target's memory:
//   1. the module's TLS module id: its link_map in ld.so's list (_r_debug.r_map; a link_map's
//      public head is l_addr, l_name, l_ld, l_next), at the offset glibc itself publishes for
//      l_tls_modid (the descriptor _thread_db_link_map_l_tls_modid in libc);
//   2. the thread's dtv: the thread pointer (fs_base on x86_64) is its struct pthread, the dtv
//      pointer sits at the offset published as _thread_db_pthread_dtvp;
//   3. the module's slot of the dtv (dtv_t is 16 bytes: the block's address, then what to free),
//      at the offset published as _thread_db_dtv_t_pointer_val.
// A DW_OP_form_tls_address offset is then added to that block's address. Nothing here is a guess
// at glibc's private layout: without its descriptors, thread-local variables are "unavailable".

import TracerKit

final class ThreadLocalStorage {
    private let modules: ModuleIndex
    private let memory: any MemoryReader
    /// Module id by load bias (link_map.l_addr), once the list has been walked.
    private var moduleIDs: Result<[UInt64: UInt64], Failure>?
    private var layout: Result<Layout, Failure>?

    struct Failure: Error, Equatable { var reason: String }

    /// Byte offsets glibc publishes for libthread_db.
    private struct Layout {
        var linkMapModuleID: UInt64
        var pthreadDTV: UInt64
        var dtvPointer: UInt64
    }

    /// dtv_t: a union of a counter and { void *val; void *to_free; }.
    private static let dtvEntrySize: UInt64 = 16
    /// glibc's TLS_DTV_UNALLOCATED: the thread has not touched the module's variables yet.
    private static let unallocated = UInt64.max

    init(modules: ModuleIndex, memory: any MemoryReader) {
        self.modules = modules
        self.memory = memory
    }

    /// The address of the thread-local block of the module loaded with `bias`, in the thread
    /// whose thread pointer (fs_base) is `threadPointer`.
    func blockAddress(moduleBias bias: UInt64, threadPointer: UInt64) -> Result<UInt64, Failure> {
        guard threadPointer != 0 else { return .failure(Failure(reason: "the thread's thread pointer (fs_base) is not known")) }
        let layout: Layout
        switch loadLayout() {
        case .success(let found): layout = found
        case .failure(let failure): return .failure(failure)
        }
        let ids: [UInt64: UInt64]
        switch loadModuleIDs(layout) {
        case .success(let found): ids = found
        case .failure(let failure): return .failure(failure)
        }
        guard let id = ids[bias], id > 0 else { return .failure(Failure(reason: "the module has no thread-local storage in ld.so's list")) }
        guard let dtv = try? memory.read(UInt64.self, at: threadPointer &+ layout.pthreadDTV), dtv != 0,
              let block = try? memory.read(UInt64.self, at: dtv &+ id &* Self.dtvEntrySize &+ layout.dtvPointer) else {
            return .failure(Failure(reason: "the thread's dtv cannot be read"))
        }
        guard block != Self.unallocated, block != 0 else {
            return .failure(Failure(reason: "this thread has not allocated the module's thread-local storage yet"))
        }
        return .success(block)
    }

    private func loadLayout() -> Result<Layout, Failure> {
        if let layout { return layout }
        func offset(_ symbol: String) -> UInt64? {
            // db_desc_t: { size in bits, element count, byte offset }.
            guard let address = modules.address(ofSymbol: symbol, inModule: "libc.so"),
                  let bytes = try? memory.readBytes(at: address, count: 12) else { return nil }
            return UInt64(bytes[8]) | UInt64(bytes[9]) << 8 | UInt64(bytes[10]) << 16 | UInt64(bytes[11]) << 24
        }
        let result: Result<Layout, Failure>
        if let modid = offset("_thread_db_link_map_l_tls_modid"), let dtvp = offset("_thread_db_pthread_dtvp"),
           let val = offset("_thread_db_dtv_t_pointer_val") {
            result = .success(Layout(linkMapModuleID: modid, pthreadDTV: dtvp, dtvPointer: val))
        } else {
            result = .failure(Failure(reason: "the C library does not publish its thread layout (no _thread_db_* symbols: not glibc?)"))
        }
        layout = result
        return result
    }

    private func loadModuleIDs(_ layout: Layout) -> Result<[UInt64: UInt64], Failure> {
        if let moduleIDs { return moduleIDs }
        var result: Result<[UInt64: UInt64], Failure>
        if let debug = modules.address(ofSymbol: "_r_debug", inModule: "ld-linux"),
           var map = try? memory.read(UInt64.self, at: debug + 8) {
            var ids: [UInt64: UInt64] = [:]
            var visited = 0
            while map != 0, visited < 4096 {
                visited += 1
                guard let bias = try? memory.read(UInt64.self, at: map),
                      let id = try? memory.read(UInt64.self, at: map &+ layout.linkMapModuleID),
                      let next = try? memory.read(UInt64.self, at: map + 24) else { break }
                if id != 0 { ids[bias] = id }
                map = next
            }
            result = .success(ids)
        } else {
            result = .failure(Failure(reason: "ld.so's list of loaded modules (_r_debug) cannot be read"))
        }
        moduleIDs = result
        return result
    }
}
