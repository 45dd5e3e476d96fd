// UnwindTableCheck: a look at a module's unwind table header before libunwind reads it. libunwind
// abort()s, taking invoker down mid-capture, when the pointer encodings in a .eh_frame_hdr are not
// ones it knows: a library damaged on disk while the server had it mapped. Such a module is not
// handed to libunwind; frames in it are followed by frame pointers and the report says why.
// libelf finds the header (the PT_GNU_EH_FRAME segment); only its four leading bytes are checked.

#if canImport(Glibc)
import Glibc
#endif
import CElfutils

enum UnwindTableCheck {
    /// Why the unwind table header of the ELF file at `path` must not be given to libunwind, as a
    /// phrase; nil when it looks sound, has none, or the file cannot be read (libunwind then finds
    /// no tables itself).
    static func problem(path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        _ = elf_version(UInt32(EV_CURRENT))
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else { return nil }
        defer { elf_end(elf) }
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0, let headers = elf64_getphdr(elf) else { return nil }
        for index in 0..<count where headers[index].p_type == UInt32(PT_GNU_EH_FRAME) {
            // struct eh_frame_hdr { u8 version, eh_frame_ptr_enc, fde_count_enc, table_enc; ... }
            var bytes = [UInt8](repeating: 0, count: 4)
            guard pread(fd, &bytes, 4, off_t(clamping: headers[index].p_offset)) == 4 else {
                return "its unwind table header (.eh_frame_hdr) cannot be read"
            }
            if bytes[0] != 1 { return "its unwind table header (.eh_frame_hdr) has version \(bytes[0]), not 1" }
            for (field, encoding) in [("eh_frame_ptr", bytes[1]), ("fde_count", bytes[2])] where !isKnownEncoding(encoding) {
                return "its unwind table header (.eh_frame_hdr) has \(field) encoding 0x\(String(encoding, radix: 16)), which no toolchain writes"
            }
            // libunwind reads only a binary search table of datarel|sdata4 entries (what GNU ld,
            // gold and lld write) and abort()s on any other, even an omitted one.
            if bytes[3] != searchTableEncoding {
                return "its unwind table header (.eh_frame_hdr) has table encoding 0x\(String(bytes[3], radix: 16)), not the 0x3b (datarel|sdata4) that linkers write and libunwind requires"
            }
        }
        return nil
    }

    /// DW_EH_PE_datarel | DW_EH_PE_sdata4.
    static let searchTableEncoding: UInt8 = 0x3b

    /// A DW_EH_PE pointer encoding a .eh_frame_hdr can carry: a size/sign format (absptr, uleb128,
    /// udata2/4/8, sleb128, sdata2/4/8) applied absolute, pc-, text- or data-relative; not omitted,
    /// not indirect.
    static func isKnownEncoding(_ value: UInt8) -> Bool {
        let format = value & 0x0f, application = value & 0x70
        return value & 0x80 == 0 && [0x0, 0x1, 0x2, 0x3, 0x4, 0x9, 0xa, 0xb, 0xc].contains(format) && application <= 0x30
    }
}
