// CrashReport: the report model every writer reads. The invoker's ReportAssembler makes it from
// the capture stages' products once the target is released (stages return values, they never
// write into a report); external tracers' runs are added after. It holds values only (no handles
// into the target), so writers can run after the target is released.

/// How a frame's registers were recovered, so a reader knows how far to trust it.
public enum FrameRecovery: String, Sendable, Equatable {
    /// Frame 0 of the crashing thread: the registers at the fault (signal context).
    case faultContext = "context"
    /// Frame 0 of another thread: the registers where it was stopped.
    case stopped = "registers"
    /// Unwound with call-frame information (.eh_frame / .debug_frame).
    case callFrameInfo = "cfi"
    /// Unwound without call-frame information, by libunwind's frame-pointer heuristics.
    case framePointer = "frame-pointer"
    /// Restored from the signal context a signal handler's frame saved (the interrupted frame).
    case signalContext = "signal-context"
}

/// What is known about one code address: its module, function and source position.
public struct SymbolInfo: Sendable, Equatable {
    /// The module the address falls in.
    public var module: String?
    /// The address's offset in the module's file (as eu-stack prints it: address - load bias).
    public var moduleOffset: UInt64?
    /// The module's GNU build-id (lowercase hex), to find its exact binary and debug file later.
    public var buildID: String?
    /// The function, demangled.
    public var function: String?
    /// The address's offset from the function's start.
    public var functionOffset: UInt64?
    public var file: String?
    public var line: Int?
    public var column: Int?

    public init() {}
}

/// A frame's registers as far as they are known, by DWARF register number (x86_64: 0 rax, 1 rdx,
/// 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8–15 r8–r15, 16 the return address), and its
/// canonical frame address.
public struct FrameRegisters: Sendable, Equatable {
    public var values = RegisterValues()
    public var cfa: UInt64?
    public init() {}
}

/// Register values by DWARF number, 0–32 (the general registers, the return address, xmm0–xmm15's
/// low 8 bytes), in one array of fixed size allocated on the first value (none for a frame whose
/// registers were not recorded): the unwinder fills one per frame, and a dictionary per frame
/// cost it an allocation and a hash per register. Other numbers are never known.
public struct RegisterValues: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// DWARF numbers 0 through `capacity - 1` can be held.
    public static let capacity = 33
    private var storage: [UInt64] = []
    /// Bit n set: register n is known.
    private var known: UInt64 = 0

    public init() {}

    public init(dictionaryLiteral elements: (UInt16, UInt64)...) {
        for (number, value) in elements { self[number] = value }
    }

    public subscript(number: UInt16) -> UInt64? {
        get { Int(number) < Self.capacity && known & (1 << UInt64(number)) != 0 ? storage[Int(number)] : nil }
        set {
            guard Int(number) < Self.capacity else { return }
            if let newValue {
                if storage.isEmpty { storage = Array(repeating: 0, count: Self.capacity) }
                storage[Int(number)] = newValue
                known |= 1 << UInt64(number)
            } else {
                known &= ~(1 << UInt64(number))
            }
        }
    }

    /// How many registers are known.
    public var count: Int { known.nonzeroBitCount }

    public static func == (lhs: RegisterValues, rhs: RegisterValues) -> Bool {
        guard lhs.known == rhs.known else { return false }
        for number in 0..<capacity where lhs.known & (1 << UInt64(number)) != 0 {
            if lhs.storage[number] != rhs.storage[number] { return false }
        }
        return true
    }
}

/// A variable of a frame and its value, as far as it could be recovered.
public struct Variable: Sendable, Equatable {
    public var name: String
    /// "parameter", "local" or "global".
    public var kind: String
    public var type: String
    /// The value as C would print it, or nil when it could not be recovered (see `note`).
    public var value: String?
    /// "optimized out", "unavailable: …", or a remark such as "points at the faulting address".
    public var note: String?
    /// What a pointer points to, summarized one level deep (pointers in it are not followed).
    public var pointee: String?
    /// The inlined function it belongs to, when it is in an inlined body; for a global, the module
    /// that defines it.
    public var scope: String?

    public init(name: String, kind: String, type: String, value: String?, note: String? = nil, pointee: String? = nil,
                scope: String? = nil) {
        self.name = name; self.kind = kind; self.type = type; self.value = value; self.note = note; self.pointee = pointee
        self.scope = scope
    }
}

/// One physical frame of a thread's stack, symbolized, with the functions the compiler inlined
/// at its pc as levels of it (`inlined`), as the Swift runtime's `SymbolicatedBacktrace.Frame`
/// keeps them. Formatters show the levels as frames of their own through one function,
/// `ThreadReport.flattenedFrames`.
@dynamicMemberLookup
public struct Frame: Sendable, Equatable {
    /// The frame's position: among the physical frames, or in a flattened list, among its rows.
    public var index: Int
    /// The program counter (for frames above 0, the return address).
    public var pc: UInt64
    public var stackPointer: UInt64
    public var recovery: FrameRecovery
    /// The signal trampoline (__restore_rt) a signal handler returns through; the frame after it
    /// is the interrupted one, with its registers from the signal context.
    public var isSignalFrame: Bool
    /// Only in a flattened list (`ThreadReport.flattenedFrames`): a row standing for one of the
    /// next physical frame's `inlined` levels (same pc, no frame of its own on the stack).
    public var isInlined = false
    /// Module, function and source position of the pc, once symbolized. With inlined levels, the
    /// position is the physical function's: the call site of the outermost inlined body.
    public var symbol = SymbolInfo()
    /// Registers of this frame, as unwinding recovered them.
    public var registers = FrameRegisters()
    /// The functions inlined at the pc, innermost first (the symbolizer; the variables tracer
    /// fills in their variables).
    public var inlined: [InlinedCall] = []
    /// The physical function's own parameters and locals in scope at the pc (the variables
    /// tracer); an inlined body's are its level's.
    public var variables: [Variable] = []

    /// `frame.function` and the like read `frame.symbol.function`.
    public subscript<T>(dynamicMember path: KeyPath<SymbolInfo, T>) -> T { symbol[keyPath: path] }

    public init(index: Int, pc: UInt64, stackPointer: UInt64, recovery: FrameRecovery, isSignalFrame: Bool = false) {
        self.index = index; self.pc = pc; self.stackPointer = stackPointer; self.recovery = recovery
        self.isSignalFrame = isSignalFrame
    }
}

extension Array where Element == Frame {
    /// Whether frame `index`'s pc is a return address, which points after its call: frame 0's pc
    /// is exact, and so are the signal trampoline's (the kernel points the handler's return at
    /// its first byte) and the interrupted frame's after it (where the signal struck).
    public func isReturnAddress(at index: Int) -> Bool {
        index > 0 && !self[index].isSignalFrame && !self[index - 1].isSignalFrame
    }

    /// The address to look frame `index` up at: inside the call instruction for a return address,
    /// so the line is the call's and a call that ends a function is not taken for the next one.
    public func lookupAddress(at index: Int) -> UInt64 {
        let pc = self[index].pc
        return isReturnAddress(at: index) && pc > 0 ? pc - 1 : pc
    }
}

/// One thread's part of the report.
public struct ThreadReport: Sendable, Equatable {
    public var tid: Int32
    public var name: String
    public var isCrashing: Bool
    public var registers: Registers?
    /// The physical frames, innermost first, each with its inlined levels (formatters show them
    /// through `flattenedFrames`).
    public var frames: [Frame]
    /// Why the stack ends where it does, when it did not reach its natural end.
    public var unwindStop: String?

    public init(tid: Int32, name: String, isCrashing: Bool, registers: Registers?, frames: [Frame] = [], unwindStop: String? = nil) {
        self.tid = tid; self.name = name; self.isCrashing = isCrashing; self.registers = registers
        self.frames = frames; self.unwindStop = unwindStop
    }
}

/// What one tracer contributed: its name, how long it took and how it ended.
public struct TracerRun: Sendable, Equatable {
    public var name: String
    /// The command line, for an external tracer.
    public var command: [String]?
    public var seconds: Double
    /// Exit status for an external tracer (nil if it did not exit normally).
    public var exitStatus: Int32?
    /// "killed by SIGKILL after the 10 s timeout" and the like.
    public var outcome: String
    /// Captured output (external tracers).
    public var output: String?

    public init(name: String, command: [String]? = nil, seconds: Double, exitStatus: Int32? = nil,
                outcome: String, output: String? = nil) {
        self.name = name; self.command = command; self.seconds = seconds; self.exitStatus = exitStatus
        self.outcome = outcome; self.output = output
    }
}

/// Everything a crash run captured.
public struct CrashReport: Sendable {
    public var pid: Int32
    public var executable: String
    public var commandLine: [String]
    public var hostTriplet: String?
    /// Seconds since the epoch when the report was started.
    public var time: Int
    public var fault: FaultContext?
    /// A capture of a running process (`invoker snapshot`), not of a crash.
    public var isSnapshot = false
    public var threads: [ThreadReport] = []
    public var modules: [LoadedModule] = []
    /// The process name (/proc/PID/comm).
    public var processName: String?
    /// /proc/PID/status, /proc/PID/limits and /proc/PID/maps as read before the target was
    /// stopped, printed verbatim as traffic_crashlog prints them.
    public var processStatus: String?
    public var processLimits: String?
    public var memoryRegions: String?
    public var tracerRuns: [TracerRun] = []
    /// Sections: a snapshot request's, then the collectors' (process details, system stats), in chain order.
    public var sections: [ReportSection] = []
    /// Global variables the configuration names (the variables tracer), with their values.
    public var globals: [Variable] = []
    /// The Traffic Server version of the target ("Traffic Server 9.2.9"), read from its binary.
    public var serverVersion: String?
    /// Traffic Server's configuration records and metrics, "name value" a line, as
    /// traffic_manager served them; nil when not read (the reason is in `notes`).
    public var configurationRecords: [String]?
    /// Sentences about whatever degraded the report.
    public var problems: [String] = []
    /// Facts about the capture itself (what took how long), for the Capture Timing section.
    public var notes: [String] = []
    /// Which crash this is (rule fp1), once the crashing thread is symbolized.
    public var fingerprint: Fingerprint?
    /// How this crash relates to the ones before it (the crash store), when known.
    public var occurrence: Occurrence?

    public init(pid: Int32, executable: String, commandLine: [String], hostTriplet: String?, time: Int,
                fault: FaultContext?) {
        self.pid = pid; self.executable = executable; self.commandLine = commandLine
        self.hostTriplet = hostTriplet; self.time = time; self.fault = fault
    }
}
