// What the Sentry transport makes of servers that do not answer like Sentry: a 200 whose body is
// not JSON (delivered, no event id), bytes that are no HTTP response and a server that never
// answers (not delivered, libcurl's reason, within the configured total timeout), and a
// Retry-After given as an HTTP date (read as 60 s). The loopback receiver is
// Tests/Fixtures/sentry/receiver.py; libcurl speaks the HTTP.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
import TracerKit
@testable import Invoker

@Suite(.serialized, .timeLimit(.minutes(1)))
struct SentryTransportTests {
    func transport(port: Int, timeout: Double = 5) throws -> SentryTransport {
        SentryTransport(dsn: try SentryDSN("http://publickey@127.0.0.1:\(port)/42"), clientVersion: "test",
                        connectTimeout: 2, timeout: timeout)
    }

    let envelope = Gzip.compress(Array("{}\n".utf8)) ?? []

    @Test func aTwoHundredWhoseBodyIsNotJSONIsADeliveryWithoutAnEventID() throws {
        let receiver = try SentryReceiver.start(answer: "garbage")
        defer { receiver.process.finish() }
        let response = try transport(port: receiver.port).send(gzipped: envelope)
        #expect(response.status == 200)
        #expect(response.eventID == nil)
        #expect(response.body.hasPrefix("<html>"))
        #expect(try receiver.requests().count == 1)
    }

    @Test func bytesThatAreNoHTTPResponseAreNotADelivery() throws {
        let receiver = try SentryReceiver.start(answer: "not-http")
        defer { receiver.process.finish() }
        #expect {
            _ = try transport(port: receiver.port).send(gzipped: envelope)
        } throws: { error in
            guard case .unreachable(let url, let reason) = error as? SentryTransportError else { return false }
            return url == "http://127.0.0.1:\(receiver.port)/api/42/envelope/" && !reason.isEmpty
        }
    }

    @Test func aServerThatNeverAnswersCostsTheTotalTimeoutAndNoMore() throws {
        let receiver = try SentryReceiver.start(answer: "silent", seconds: 20)
        defer { receiver.process.finish() }
        let start = Deadline.now()
        var reason = ""
        do {
            _ = try transport(port: receiver.port, timeout: 1.5).send(gzipped: envelope)
        } catch let error as SentryTransportError {
            if case .unreachable(_, let why) = error { reason = why }
        }
        let seconds = Deadline.now().seconds(since: start)
        #expect(reason.lowercased().contains("timed out") || reason.lowercased().contains("timeout"), "\(reason)")
        #expect(seconds >= 1.4 && seconds < 5, "took \(seconds) s with a 1.5 s timeout")
    }

    @Test func aRetryAfterGivenAsAnHTTPDateIsReadAsSixtySeconds() throws {
        let receiver = try SentryReceiver.start(answer: "date-retry")
        defer { receiver.process.finish() }
        #expect {
            _ = try transport(port: receiver.port).send(gzipped: envelope)
        } throws: { error in
            guard case .rejected(_, let response) = error as? SentryTransportError else { return false }
            return response.status == 503 && response.retryAfter == 60
        }
    }
}
