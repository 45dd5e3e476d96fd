// FaultContext: everything known about a fault before the target is attached: who crashed, with
// which signal, and the registers at the faulting instruction.

/// The fault a crash run reports on.
public struct FaultContext: Sendable, Equatable {
    /// The crashing process.
    public var pid: Int32
    /// The crashing thread, when known (from the payload, or found after attaching).
    public var crashingThread: Int32?
    /// The signal, when the payload carried a readable siginfo_t.
    public var signal: SignalInfo?
    /// Registers at the faulting instruction (from the ucontext), when the payload carried them.
    public var registers: Registers?
    /// The payload it came from, if any.
    public var payloadVersion: PayloadVersion?
    /// The server's own backtrace text (ATS 10.2+), if it sent one.
    public var serverBacktrace: String?
    /// Sentences describing what could not be decoded.
    public var problems: [String]
    /// What kind of fault it was, and why we think so (set once the target has been examined).
    public var classification: FaultClassification?

    public init(pid: Int32, crashingThread: Int32? = nil, signal: SignalInfo? = nil, registers: Registers? = nil,
                payloadVersion: PayloadVersion? = nil, serverBacktrace: String? = nil, problems: [String] = []) {
        self.pid = pid; self.crashingThread = crashingThread; self.signal = signal; self.registers = registers
        self.payloadVersion = payloadVersion; self.serverBacktrace = serverBacktrace; self.problems = problems
    }

    /// The fault described by a decoded payload from process `pid`.
    public init(pid: Int32, payload: CrashPayload) {
        self.init(pid: pid, crashingThread: payload.crashingThread, signal: payload.signal,
                  registers: payload.registers, payloadVersion: payload.version,
                  serverBacktrace: payload.serverBacktrace, problems: payload.problems)
    }
}
