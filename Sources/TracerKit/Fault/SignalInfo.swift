// SignalInfo: what a siginfo_t says about a fatal signal, decoded from the crash payload, with the
// names and texts a report prints.

#if canImport(Glibc)
import Glibc
#endif
import CInvokerShim

/// The fields of a `siginfo_t` that describe a fault.
public struct SignalInfo: Sendable, Equatable {
    public var number: Int32
    public var code: Int32
    public var errnoValue: Int32
    /// `si_addr`: the faulting address for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP.
    public var address: UInt64
    /// `si_pid`/`si_uid`: the sender, for signals sent by a process (`si_code` <= 0).
    public var senderPID: Int32
    public var senderUID: UInt32

    public init(number: Int32, code: Int32 = 0, errnoValue: Int32 = 0, address: UInt64 = 0,
                senderPID: Int32 = 0, senderUID: UInt32 = 0) {
        self.number = number; self.code = code; self.errnoValue = errnoValue
        self.address = address; self.senderPID = senderPID; self.senderUID = senderUID
    }

    package init(_ raw: ivk_siginfo) {
        self.init(number: raw.signo, code: raw.code, errnoValue: raw.errnum, address: raw.address,
                  senderPID: raw.pid, senderUID: raw.uid)
    }

    /// Whether `number` is a signal Linux defines (1…64).
    public var isValidSignal: Bool { number >= 1 && number <= 64 }

    /// Whether the signal was sent by a process (kill, tkill, sigqueue) rather than raised by a fault.
    public var wasSentByProcess: Bool { code <= 0 }

    /// Whether `si_addr` is meaningful for this signal and code.
    public var hasFaultAddress: Bool {
        !wasSentByProcess && [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP].contains(number)
    }

    /// "SIGSEGV".
    public var name: String { SignalInfo.name(of: number) }

    /// The C library's description: "Segmentation fault", as traffic_crashlog prints it.
    public var description: String { SignalInfo.description(of: number) }

    /// The meaning of `si_code` for this signal ("SEGV_MAPERR (address not mapped to object)").
    public var codeDescription: String { SignalCode.describe(signal: number, code: code) }

    public static func name(of signal: Int32) -> String {
        if let abbreviation = ivk_signal_abbreviation(signal) { return "SIG" + String(cString: abbreviation) }
        return "signal \(signal)"
    }

    public static func description(of signal: Int32) -> String {
        if let text = strsignal(signal) { return String(cString: text) }
        return "Unknown signal \(signal)"
    }
}
