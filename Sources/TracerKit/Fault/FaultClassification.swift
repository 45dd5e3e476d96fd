// FaultClassification: what kind of fault a crash was, with the evidence for it, from the signal,
// its si_code and address, the page-fault error code in the signal context, the memory map and
// the crashing thread's stack pointer. A reader should not have to decode si_code and CR2 to see
// "null pointer dereference" or "stack overflow".

#if canImport(Glibc)
import Glibc
#endif

/// The kind of a fault, named for the long run (these strings are in the JSON report).
public enum FaultKind: String, Sendable, Equatable {
    case nullDereference = "null-dereference"
    case stackOverflow = "stack-overflow"
    case writeToReadOnly = "write-to-read-only-memory"
    case executeNonExecutable = "execute-non-executable-memory"
    case unmappedAddress = "unmapped-address"
    case accessDenied = "access-denied"
    case busError = "bus-error"
    case abort = "abort"
    case assertion = "assertion-failure"
    case divideByZero = "divide-by-zero"
    case arithmetic = "arithmetic-error"
    case illegalInstruction = "illegal-instruction"
    case breakpoint = "breakpoint-or-trap"
    case sentSignal = "signal-sent-by-a-process"
    case unknown = "unknown"
}

/// A classification and why.
public struct FaultClassification: Sendable, Equatable {
    public var kind: FaultKind
    /// One line for people: "null pointer dereference (read of address 0x8)".
    public var summary: String
    /// The facts it rests on, one sentence each.
    public var evidence: [String]

    public init(kind: FaultKind, summary: String, evidence: [String]) {
        self.kind = kind; self.summary = summary; self.evidence = evidence
    }
}

/// Classifies faults.
public enum FaultClassifier {
    /// Addresses below this are the null page(s): Linux's default vm.mmap_min_addr.
    public static let nullRegionSize: UInt64 = 65536
    /// How far below a stack pointer a fault still counts as the stack's own overflow.
    public static let stackReach: UInt64 = 1 << 20

    /// Classifies `signal` given the registers at the fault, the crashing thread's stack pointer,
    /// the memory map and, for an abort, the C library's abort message. `targetPID` is the
    /// crashed process (a SIGABRT it sent itself is abort()'s) and `senderName` the sender's
    /// command name, when known.
    public static func classify(signal: SignalInfo, registers: Registers?, mappings: [MemoryMapping],
                                abortMessage: String?, targetPID: Int32? = nil,
                                senderName: String? = nil) -> FaultClassification {
        let address = signal.address
        let hexAddress = address.hex
        var evidence = ["\(signal.name) with \(signal.codeDescription)"]
        // abort() raises SIGABRT in its own process (tgkill, SI_TKILL, si_pid the process); from
        // any other process it was sent, with kill or tgkill, like any other signal.
        let abortedItself = signal.number == SIGABRT && (targetPID == nil || signal.senderPID == targetPID)
        if signal.wasSentByProcess && !abortedItself {
            let sender = "process \(signal.senderPID)" + (senderName.map { " (\($0))" } ?? "")
            evidence.append("sent by \(sender) as uid \(signal.senderUID), not raised by the faulting instruction")
            return FaultClassification(kind: .sentSignal, summary: "\(signal.name) sent by \(sender)", evidence: evidence)
        }
        switch signal.number {
        case SIGSEGV:
            return classifySegfault(signal: signal, registers: registers, mappings: mappings, evidence: evidence)
        case SIGBUS:
            let mapping = mappings.mapping(containing: address)
            if let mapping, !mapping.path.isEmpty, mapping.path.hasPrefix("/") {
                evidence.append("address \(hexAddress) is in a mapping of \(mapping.path) at file offset \((mapping.offset + address - mapping.start).hex)")
                return FaultClassification(kind: .busError, summary: "bus error: access to \(hexAddress) beyond the end of the mapped file \(mapping.path) (truncated while mapped?)", evidence: evidence)
            }
            return FaultClassification(kind: .busError, summary: "bus error at \(hexAddress)", evidence: evidence)
        case SIGABRT:
            if let abortMessage, !abortMessage.isEmpty {
                evidence.append("the C library's abort message: \(abortMessage)")
                let isAssertion = abortMessage.contains("Assertion") && abortMessage.contains("failed")
                return FaultClassification(kind: isAssertion ? .assertion : .abort,
                                           summary: isAssertion ? "assertion failed: \(abortMessage)" : "abort: \(abortMessage)",
                                           evidence: evidence)
            }
            if signal.wasSentByProcess { evidence.append("raised by process \(signal.senderPID) (abort() raises it with tgkill)") }
            return FaultClassification(kind: .abort, summary: "abort() called (no message left by the C library)", evidence: evidence)
        case SIGFPE:
            if signal.code == 1 || signal.code == 3 {
                return FaultClassification(kind: .divideByZero, summary: "division by zero at \(hexAddress)", evidence: evidence)
            }
            return FaultClassification(kind: .arithmetic, summary: "arithmetic error at \(hexAddress)", evidence: evidence)
        case SIGILL:
            return FaultClassification(kind: .illegalInstruction, summary: "illegal instruction at \(hexAddress)", evidence: evidence)
        case SIGTRAP:
            // An int3 is reported by the kernel with no address; the pc is one past it.
            let location = signal.code == 0x80 ? registers.map { ($0.rip &- 1).hex } ?? hexAddress : hexAddress
            return FaultClassification(kind: .breakpoint, summary: "breakpoint or trap at \(location)", evidence: evidence)
        default:
            return FaultClassification(kind: .unknown, summary: "\(signal.name) (\(signal.description))", evidence: evidence)
        }
    }

    static func classifySegfault(signal: SignalInfo, registers: Registers?, mappings: [MemoryMapping],
                                 evidence initial: [String]) -> FaultClassification {
        var evidence = initial
        let address = signal.address
        let hexAddress = address.hex
        // x86 page-fault error code (REG_ERR): bit 1 write, bit 4 instruction fetch.
        let errorCode = registers?.errorCode
        let isWrite = errorCode.map { $0 & 2 != 0 }
        let isFetch = errorCode.map { $0 & 16 != 0 } ?? (registers?.rip == address)
        if let errorCode {
            let access = isFetch ? "an instruction fetch" : isWrite == true ? "a write" : "a read"
            evidence.append("the page-fault error code \(errorCode.hex) says the access was \(access)")
        }
        let access = isFetch ? "execution" : isWrite == true ? "write" : isWrite == false ? "read" : "access"
        if address < nullRegionSize {
            evidence.append("\(hexAddress) is in the first \(nullRegionSize / 1024) KiB, which are never mapped (vm.mmap_min_addr)")
            return FaultClassification(kind: .nullDereference,
                                       summary: "null pointer dereference (\(access) of \(hexAddress))", evidence: evidence)
        }
        if let sp = registers?.rsp, let overflow = stackOverflow(address: address, sp: sp, mappings: mappings) {
            evidence.append(overflow)
            return FaultClassification(kind: .stackOverflow, summary: "stack overflow (\(access) of \(hexAddress), below the stack)", evidence: evidence)
        }
        if let mapping = mappings.mapping(containing: address) {
            let name = mapping.path.isEmpty ? "anonymous memory" : mapping.path
            evidence.append("\(hexAddress) is in a \(mapping.permissions) mapping of \(name)")
            if isFetch && !mapping.isExecutable {
                return FaultClassification(kind: .executeNonExecutable,
                                           summary: "execution of non-executable memory at \(hexAddress) (\(name))", evidence: evidence)
            }
            if isWrite == true && !mapping.isWritable {
                return FaultClassification(kind: .writeToReadOnly,
                                           summary: "write to read-only memory at \(hexAddress) (\(name))", evidence: evidence)
            }
            return FaultClassification(kind: .accessDenied, summary: "\(access) of \(hexAddress) not permitted (\(mapping.permissions) \(name))", evidence: evidence)
        }
        evidence.append("\(hexAddress) is not in any mapping of the process")
        if isFetch {
            return FaultClassification(kind: .executeNonExecutable, summary: "jump to unmapped address \(hexAddress)", evidence: evidence)
        }
        return FaultClassification(kind: .unmappedAddress, summary: "\(access) of unmapped address \(hexAddress)", evidence: evidence)
    }

    /// A sentence if `address` is a stack overflow: just below the stack that holds (or held)
    /// the stack pointer, in its guard page or in the unmapped gap below it.
    static func stackOverflow(address: UInt64, sp: UInt64, mappings: [MemoryMapping]) -> String? {
        let hexAddress = address.hex
        // The stack: the writable mapping holding sp; if sp already ran into the guard page, the
        // first writable mapping above it.
        let stack: MemoryMapping? = {
            if let holder = mappings.mapping(containing: sp), holder.isWritable { return holder }
            return mappings.first { $0.start > sp && $0.start - sp <= stackReach && $0.isWritable }
        }()
        guard let stack, address < stack.start, stack.start - address <= stackReach else { return nil }
        let stackName = stack.path.isEmpty ? "the thread stack" : stack.path
        if let below = mappings.mapping(containing: address) {
            guard below.permissions.hasPrefix("---") else { return nil }
            return "\(hexAddress) is in the guard page just below \(stackName) at \(stack.start.hex); the stack pointer was \(sp.hex)"
        }
        return "\(hexAddress) is unmapped, \(stack.start - address) bytes below \(stackName) at \(stack.start.hex); the stack pointer was \(sp.hex)"
    }
}

