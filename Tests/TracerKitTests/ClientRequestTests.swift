// libinvoker-client's requests (ClientRequest): a snapshot is signal number 0 and a reason, read
// by its framed length while the client keeps the socket open; a crash is a Traffic Server
// master payload; EOF is a shutdown; a wake with nothing written is idle.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import Testing
@testable import TracerKit

/// A snapshot request as libinvoker-client lays it out (payload.c).
func snapshotRequest(tid: Int32, reason: String) -> [UInt8] {
    PayloadBuilder.le32(0) + PayloadBuilder.le32(UInt32(tid)) + [UInt8](repeating: 0, count: 128 + 968)
        + PayloadBuilder.le32(UInt32(reason.utf8.count)) + Array(reason.utf8)
}

@Suite(.timeLimit(.minutes(1))) struct ClientRequestTests {
    @Test func snapshotCarriesTheThreadAndTheReason() {
        #expect(ClientRequest.decode(snapshotRequest(tid: 77, reason: "watchdog: stalled"))
            == .snapshot(thread: 77, reason: "watchdog: stalled"))
        #expect(ClientRequest.decode(snapshotRequest(tid: 77, reason: "")) == .snapshot(thread: 77, reason: ""))
    }

    @Test func crashIsAMasterPayloadWithoutBacktrace() throws {
        guard case .crash(let payload) = ClientRequest.decode(PayloadBuilder.master(tid: 4242, text: "")) else {
            Issue.record("not decoded as a crash")
            return
        }
        #expect(payload.version == .atsMaster)
        #expect(payload.crashingThread == 4242)
        #expect(payload.signal?.number == 11)
        #expect(payload.serverBacktrace == nil)
    }

    @Test func nothingIsAShutdown() {
        #expect(ClientRequest.decode([]) == .shutdown)
    }

    @Test("Requests are read by their framed length on an open socket, one after another, then EOF")
    func framedReadsOnAnOpenSocket() throws {
        var ends: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        let reader = FileDescriptor(rawValue: ends[0]), writer = FileDescriptor(rawValue: ends[1])
        defer { try? reader.close() }
        _ = try writer.writeAll(snapshotRequest(tid: 5, reason: "first") + snapshotRequest(tid: 6, reason: "second"))
        // The client keeps its end open: each read must end at the frame, not wait for EOF.
        let started = Deadline.now()
        #expect(Handshake.readClientRequest(from: reader) == .snapshot(thread: 5, reason: "first"))
        #expect(Handshake.readClientRequest(from: reader) == .snapshot(thread: 6, reason: "second"))
        #expect(Deadline.now().seconds(since: started) < 2)
        #expect(Handshake.readClientRequest(from: reader, deadline: .after(seconds: 0.2)) == .idle)
        try writer.close()
        #expect(Handshake.readClientRequest(from: reader) == .shutdown)
    }
}
