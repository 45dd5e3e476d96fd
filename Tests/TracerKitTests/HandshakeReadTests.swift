// The payload read on a real pipe: a server that writes part of a payload and never closes its
// end holds the helper only until the deadline; EOF with nothing written is a shutdown; bytes past
// the limit are drained, not kept; a client request that stops short ends at EOF.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import Testing
@testable import TracerKit

@Suite(.timeLimit(.minutes(1))) struct HandshakeReadTests {
    /// A pipe as (read end, write end).
    func pipeEnds() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        return (fds[0], fds[1])
    }

    @Test func aServerThatNeverClosesHoldsTheReadOnlyUntilTheDeadline() throws {
        let (readEnd, writeEnd) = try pipeEnds()
        defer { close(readEnd); close(writeEnd) }
        let partial: [UInt8] = [11, 0, 0, 0, 1, 2, 3]
        #expect(write(writeEnd, partial, partial.count) == partial.count)
        let start = Deadline.now()
        let bytes = Handshake.readToEnd(FileDescriptor(rawValue: readEnd), limit: 1 << 20, deadline: .after(seconds: 0.3))
        let elapsed = Deadline.now().seconds(since: start)
        #expect(bytes == partial)
        #expect(elapsed >= 0.29 && elapsed < 2, "\(elapsed) s")
    }

    @Test func eofWithNothingWrittenIsAShutdownAndTheLimitIsKeptWhileTheRestIsDrained() throws {
        let (readEnd, writeEnd) = try pipeEnds()
        close(writeEnd)
        #expect(Handshake.readPayload(from: FileDescriptor(rawValue: readEnd), deadline: .after(seconds: 5)) == .shutdown)
        close(readEnd)

        let (source, sink) = try pipeEnds()
        defer { close(source) }
        let sent = [UInt8](repeating: 7, count: 40_000)
        let writer = WriterThread { _ = sent.withUnsafeBytes { write(sink, $0.baseAddress, $0.count) }; close(sink) }
        writer.start()
        let bytes = Handshake.readToEnd(FileDescriptor(rawValue: source), limit: 1000, deadline: .after(seconds: 10))
        #expect(bytes == [UInt8](repeating: 7, count: 1000))
        // Drained to EOF: the writer was not left blocked on a full pipe.
        writer.join()
    }

    @Test func aClientRequestThatStopsShortEndsAtEOF() throws {
        let (readEnd, writeEnd) = try pipeEnds()
        defer { close(readEnd) }
        let sent: [UInt8] = [1, 2, 3]
        #expect(write(writeEnd, sent, sent.count) == 3)
        close(writeEnd)
        let (bytes, atEnd) = Handshake.readExactly(FileDescriptor(rawValue: readEnd), count: 16, deadline: .after(seconds: 5))
        #expect(bytes == [1, 2, 3] && atEnd)
    }
}

/// A plain thread that runs `body` (the pipe's writer), joined by the test.
final class WriterThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) { self.body = body }

    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { pointer in
            let thread = Unmanaged<WriterThread>.fromOpaque(pointer!).takeRetainedValue()
            thread.body()
            return nil
        }, box)
    }

    func join() { pthread_join(handle, nil) }
}
