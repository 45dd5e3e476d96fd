// Registers: one thread's x86_64 general-purpose registers, from ptrace (user_regs_struct) or from
// the crash payload's ucontext_t (glibc's gregs). The same type feeds the unwinder and the report.

import CInvokerShim

/// A thread's x86_64 general-purpose registers.
public struct Registers: Sendable, Equatable {
    public var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
    public var rsi: UInt64 = 0, rdi: UInt64 = 0, rbp: UInt64 = 0, rsp: UInt64 = 0
    public var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    public var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    public var rip: UInt64 = 0, eflags: UInt64 = 0
    /// CS, SS and friends, where the source has them.
    public var cs: UInt64 = 0, ss: UInt64 = 0
    public var fsBase: UInt64 = 0, gsBase: UInt64 = 0
    /// The syscall number a thread stopped in a system call was executing (ptrace only; -1 if none).
    public var origRax: UInt64 = UInt64.max
    /// Trap number, error code and CR2 (the faulting address), from a signal context only.
    public var trapNumber: UInt64? = nil, errorCode: UInt64? = nil, cr2: UInt64? = nil
    /// All 23 `gregs` of a signal context, in glibc's REG_* order, when the registers came from one
    /// (traffic_crashlog prints exactly these).
    public var signalContextGregs: [UInt64]? = nil
    /// The low 8 bytes of xmm0–xmm15 (where x86_64 code keeps float and double values), when
    /// they were captured: PTRACE_GETFPREGS, or the state a signal context points to.
    public var xmmLow: [UInt64]? = nil
    /// For registers from a signal context: where in the target the kernel saved the FPU/SSE
    /// state (uc_mcontext.fpregs), to read `xmmLow` from.
    public var floatingPointStateAddress: UInt64? = nil

    public init() {}

    /// From PTRACE_GETREGS.
    package init(_ regs: user_regs_struct) {
        rax = regs.rax; rbx = regs.rbx; rcx = regs.rcx; rdx = regs.rdx
        rsi = regs.rsi; rdi = regs.rdi; rbp = regs.rbp; rsp = regs.rsp
        r8 = regs.r8; r9 = regs.r9; r10 = regs.r10; r11 = regs.r11
        r12 = regs.r12; r13 = regs.r13; r14 = regs.r14; r15 = regs.r15
        rip = regs.rip; eflags = regs.eflags; cs = regs.cs; ss = regs.ss
        fsBase = regs.fs_base; gsBase = regs.gs_base; origRax = regs.orig_rax
    }

    /// From the `gregs` of a ucontext_t, indexed by glibc's REG_* numbers.
    package init(gregs g: [UInt64]) {
        precondition(g.count == Int(IVK_NGREG))
        r8 = g[0]; r9 = g[1]; r10 = g[2]; r11 = g[3]; r12 = g[4]; r13 = g[5]; r14 = g[6]; r15 = g[7]
        rdi = g[8]; rsi = g[9]; rbp = g[10]; rbx = g[11]; rdx = g[12]; rax = g[13]; rcx = g[14]
        rsp = g[15]; rip = g[16]; eflags = g[17]
        // REG_CSGSFS packs cs, gs, fs (16 bits each) and a padding word.
        cs = g[18] & 0xffff
        errorCode = g[19]; trapNumber = g[20]; cr2 = g[22]
        signalContextGregs = g
    }

    /// glibc's names of the x86_64 `gregs` (REG_R8 … REG_CR2), as traffic_crashlog prints them.
    public static let gregNames = [
        "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15", "RDI", "RSI", "RBP", "RBX",
        "RDX", "RAX", "RCX", "RSP", "RIP", "EFL", "CSGSFS", "ERR", "TRAPNO", "OLDMASK", "CR2",
    ]

    /// R8 … RIP and EFLAGS in glibc's REG_* order (the first 18 `gregs`): what registers that
    /// did not come from a signal context (ptrace, a core's NT_PRSTATUS) print as.
    public var generalRegistersInGregOrder: [UInt64] {
        [r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags]
    }

    /// The value of a register by libunwind's x86_64 number (UNW_X86_64_RAX … UNW_X86_64_RIP),
    /// or nil for a number this type does not hold.
    public func value(libunwindNumber number: Int32) -> UInt64? {
        switch number {
        case 0: rax
        case 1: rdx
        case 2: rcx
        case 3: rbx
        case 4: rsi
        case 5: rdi
        case 6: rbp
        case 7: rsp
        case 8: r8
        case 9: r9
        case 10: r10
        case 11: r11
        case 12: r12
        case 13: r13
        case 14: r14
        case 15: r15
        case 16: rip
        default: nil
        }
    }

    /// The registers in the order traffic_crashlog prints them, with their names.
    public var named: [(name: String, value: UInt64)] {
        var list: [(String, UInt64)] = [
            ("RAX", rax), ("RBX", rbx), ("RCX", rcx), ("RDX", rdx),
            ("RSI", rsi), ("RDI", rdi), ("RBP", rbp), ("RSP", rsp),
            ("R8", r8), ("R9", r9), ("R10", r10), ("R11", r11),
            ("R12", r12), ("R13", r13), ("R14", r14), ("R15", r15),
            ("RIP", rip), ("EFLAGS", eflags), ("CS", cs),
        ]
        if let errorCode { list.append(("ERR", errorCode)) }
        if let trapNumber { list.append(("TRAPNO", trapNumber)) }
        if let cr2 { list.append(("CR2", cr2)) }
        return list
    }
}
