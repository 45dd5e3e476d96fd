// SignalCode: the meaning of si_code for each fatal signal, from <bits/siginfo-consts.h>.

#if canImport(Glibc)
import Glibc
#endif

/// Names and meanings of `si_code` values.
public enum SignalCode {
    /// "SEGV_MAPERR (address not mapped to object)" for (SIGSEGV, 1), and so on.
    public static func describe(signal: Int32, code: Int32) -> String {
        if let (name, meaning) = lookup(signal: signal, code: code) { return "\(name) (\(meaning))" }
        return "si_code \(code)"
    }

    static func lookup(signal: Int32, code: Int32) -> (String, String)? {
        switch code {
        case 0: return ("SI_USER", "sent by kill or raise")
        case 0x80: return ("SI_KERNEL", "sent by the kernel")
        case -1: return ("SI_QUEUE", "sent by sigqueue")
        case -2: return ("SI_TIMER", "POSIX timer expired")
        case -3: return ("SI_MESGQ", "message queue state changed")
        case -4: return ("SI_ASYNCIO", "asynchronous I/O completed")
        case -5: return ("SI_SIGIO", "queued SIGIO")
        case -6: return ("SI_TKILL", "sent by tkill or tgkill")
        default: break
        }
        let table: [Int32: [(String, String)]] = [
            SIGSEGV: [("SEGV_MAPERR", "address not mapped to object"),
                      ("SEGV_ACCERR", "invalid permissions for mapped object"),
                      ("SEGV_BNDERR", "failed address bound checks"),
                      ("SEGV_PKUERR", "access denied by memory protection keys"),
                      ("SEGV_ACCADI", "ADI not enabled for mapped object"),
                      ("SEGV_ADIDERR", "disrupting MCD error"),
                      ("SEGV_ADIPERR", "precise MCD exception"),
                      ("SEGV_MTEAERR", "asynchronous ARM MTE error"),
                      ("SEGV_MTESERR", "synchronous ARM MTE exception"),
                      ("SEGV_CPERR", "control protection fault")],
            SIGBUS: [("BUS_ADRALN", "invalid address alignment"),
                     ("BUS_ADRERR", "non-existent physical address"),
                     ("BUS_OBJERR", "object-specific hardware error"),
                     ("BUS_MCEERR_AR", "hardware memory error consumed on a machine check: action required"),
                     ("BUS_MCEERR_AO", "hardware memory error detected in process but not consumed: action optional")],
            SIGILL: [("ILL_ILLOPC", "illegal opcode"), ("ILL_ILLOPN", "illegal operand"),
                     ("ILL_ILLADR", "illegal addressing mode"), ("ILL_ILLTRP", "illegal trap"),
                     ("ILL_PRVOPC", "privileged opcode"), ("ILL_PRVREG", "privileged register"),
                     ("ILL_COPROC", "coprocessor error"), ("ILL_BADSTK", "internal stack error"),
                     ("ILL_BADIADDR", "unimplemented instruction address")],
            SIGFPE: [("FPE_INTDIV", "integer divide by zero"), ("FPE_INTOVF", "integer overflow"),
                     ("FPE_FLTDIV", "floating-point divide by zero"), ("FPE_FLTOVF", "floating-point overflow"),
                     ("FPE_FLTUND", "floating-point underflow"), ("FPE_FLTRES", "floating-point inexact result"),
                     ("FPE_FLTINV", "floating-point invalid operation"), ("FPE_FLTSUB", "subscript out of range"),
                     ("FPE_FLTUNK", "undiagnosed floating-point exception"), ("FPE_CONDTRAP", "trap on condition")],
            SIGTRAP: [("TRAP_BRKPT", "process breakpoint"), ("TRAP_TRACE", "process trace trap"),
                      ("TRAP_BRANCH", "process taken branch trap"), ("TRAP_HWBKPT", "hardware breakpoint/watchpoint"),
                      ("TRAP_UNK", "undiagnosed trap")],
        ]
        guard let codes = table[signal], code >= 1, Int(code) <= codes.count else { return nil }
        return codes[Int(code) - 1]
    }
}
