// FaultClassifier on constructed signals (no process): a SIGABRT is abort()'s only when the
// crashed process raised it itself; sent by another process with kill or tgkill, it is reported
// as sent, with the sender's pid and name, like any other signal.

#if canImport(Glibc)
import Glibc
#endif
import Testing
import TracerKit

@Suite(.timeLimit(.minutes(1)))
struct FaultClassifierTests {
    static let target: Int32 = 4100

    @Test(arguments: [(Int32(0), "SI_USER"), (Int32(-6), "SI_TKILL")])
    func sigabrtFromAnotherProcessIsSentNotAbort(code: Int32, codeName: String) {
        let signal = SignalInfo(number: SIGABRT, code: code, senderPID: 4242, senderUID: 0)
        let result = FaultClassifier.classify(signal: signal, registers: nil, mappings: [], abortMessage: nil,
                                              targetPID: Self.target, senderName: "kill")
        #expect(result.kind == .sentSignal)
        #expect(result.summary == "SIGABRT sent by process 4242 (kill)")
        #expect(result.evidence.first?.contains(codeName) == true, "\(result.evidence)")
        #expect(result.evidence.contains("sent by process 4242 (kill) as uid 0, not raised by the faulting instruction"))
    }

    @Test func sigabrtRaisedByTheProcessItselfIsAbort() {
        let signal = SignalInfo(number: SIGABRT, code: -6, senderPID: Self.target, senderUID: 102)
        let result = FaultClassifier.classify(signal: signal, registers: nil, mappings: [], abortMessage: nil,
                                              targetPID: Self.target, senderName: "[TS_MAIN]")
        #expect(result.kind == .abort)
        #expect(result.summary == "abort() called (no message left by the C library)")
    }

    @Test func otherSignalsSentByAProcessNameTheSender() {
        let signal = SignalInfo(number: SIGSEGV, code: 0, senderPID: 77, senderUID: 0)
        let result = FaultClassifier.classify(signal: signal, registers: nil, mappings: [], abortMessage: nil,
                                              targetPID: Self.target, senderName: "bash")
        #expect(result.kind == .sentSignal && result.summary == "SIGSEGV sent by process 77 (bash)")
    }
}
