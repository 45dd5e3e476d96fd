// libFuzzer entry point for scripts/fuzz-payload: one input is one payload as a server would write
// it to the helper's stdin. Everything it reaches before the target is attached must not trap.

#if canImport(Glibc)
import Glibc
#endif

let mappings = MemoryMapping.parse("""
0000000000400000-0000000000401000 r-xp 00000000 fd:01 12 /usr/bin/server
00007ffc00000000-00007ffc00100000 rw-p 00000000 00:00 0 [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
""")
let memory: InMemoryReader = {
    let reader = InMemoryReader()
    reader.map([UInt8](repeating: 0xAB, count: 4096), at: 0xffff_ffff_ffff_f000)
    return reader
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let payload = CrashPayload.decode(bytes) else { return 0 }
    let fault = FaultContext(pid: 1, payload: payload)
    if let signal = fault.signal {
        _ = (signal.name, signal.description, signal.codeDescription)
        _ = FaultClassifier.classify(signal: signal, registers: fault.registers, mappings: mappings, abortMessage: nil)
    }
    if let registers = fault.registers {
        _ = registers.named
        if let address = registers.floatingPointStateAddress {
            // The read LiveProcessSnapshot.faultXMM does, with the same overflow check.
            let (start, overflow) = address.addingReportingOverflow(160)
            if !overflow { _ = try? memory.readBytes(at: start, count: 256) }
        }
    }
    return 0
}
