// SentryTransport: one POST of a gzipped envelope to the project's envelope endpoint with libcurl,
// loaded on first use (CCurl: a parked helper maps none of it): TLS with the system's CA store;
// https_proxy, http_proxy and no_proxy honoured by libcurl itself; connect and total timeouts.
// HTTP is libcurl's to speak: the response's status, its Retry-After and X-Sentry-Rate-Limits
// headers and its body are read back through libcurl.

import CCurl
import FoundationEssentials

/// What the server answered.
struct SentryResponse: Sendable {
    var status: Int
    /// Retry-After, in seconds (a number; an HTTP date is read as 60 s).
    var retryAfter: Double?
    /// X-Sentry-Rate-Limits, as sent.
    var rateLimits: String?
    /// The event id Sentry assigned (the body's "id"), when it said.
    var eventID: String?
    var body: String
}

/// Why an envelope was not delivered.
enum SentryTransportError: Error, CustomStringConvertible {
    /// No answer: DNS, connection, TLS, timeout (libcurl's message).
    case unreachable(url: String, reason: String)
    /// An answer other than 2xx.
    case rejected(url: String, response: SentryResponse)

    var description: String {
        switch self {
        case .unreachable(let url, let reason): "cannot reach Sentry at \(url): \(reason)"
        case .rejected(let url, let response):
            "Sentry at \(url) answered HTTP \(response.status)"
                + (response.retryAfter.map { ", retry after \(Int($0)) s" } ?? "")
                + (response.body.isEmpty ? "" : ": " + String(response.body.prefix(200)))
        }
    }
}

struct SentryTransport {
    let dsn: SentryDSN
    let clientVersion: String
    var connectTimeout: Double = 10
    var timeout: Double = 30

    /// Sends `gzipped` (a gzip-compressed envelope) and returns the 2xx response.
    func send(gzipped: [UInt8]) throws(SentryTransportError) -> SentryResponse {
        let url = dsn.envelopeURL
        var loadError = [CChar](repeating: 0, count: 512)
        guard ivk_curl_load(&loadError, loadError.count) == 0 else {
            throw .unreachable(url: url, reason: String(decoding: loadError.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        _ = ivk_curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard let handle = ivk_curl_easy_init() else { throw .unreachable(url: url, reason: "libcurl could not start") }
        defer { ivk_curl_easy_cleanup(handle) }
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        for header in ["Content-Type: application/x-sentry-envelope", "Content-Encoding: gzip",
                       "X-Sentry-Auth: " + dsn.authHeader(clientVersion: clientVersion), "Expect:"] {
            headers = ivk_curl_slist_append(headers, header)
        }
        defer { ivk_curl_slist_free_all(headers) }
        let collector = ResponseCollector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let result: CURLcode = url.withCString { urlText in
            gzipped.withUnsafeBytes { body in
                errorBuffer.withUnsafeMutableBufferPointer { errors in
                    _ = ivk_curl_set_pointer(handle, CURLOPT_URL, urlText)
                    _ = ivk_curl_set_long(handle, CURLOPT_POST, 1)
                    _ = ivk_curl_set_pointer(handle, CURLOPT_POSTFIELDS, body.baseAddress)
                    _ = ivk_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
                    _ = ivk_curl_set_pointer(handle, CURLOPT_HTTPHEADER, headers)
                    "invoker/\(clientVersion)".withCString { agent in
                        _ = ivk_curl_set_pointer(handle, CURLOPT_USERAGENT, agent)
                        // libcurl copies string options, so the agent's buffer may go after this.
                    }
                    _ = ivk_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
                    _ = ivk_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
                    _ = ivk_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
                    _ = ivk_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0)
                    _ = ivk_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
                    _ = ivk_curl_set_callback(handle, CURLOPT_WRITEFUNCTION, ResponseCollector.bodyCallback)
                    _ = ivk_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
                    _ = ivk_curl_set_callback(handle, CURLOPT_HEADERFUNCTION, ResponseCollector.headerCallback)
                    _ = ivk_curl_set_pointer(handle, CURLOPT_HEADERDATA, context)
                    return ivk_curl_easy_perform(handle)
                }
            }
        }
        guard result == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .unreachable(url: url, reason: detail.isEmpty ? String(cString: ivk_curl_easy_strerror(result)) : detail)
        }
        var status = 0
        _ = ivk_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
        let body = String(decoding: collector.body.prefix(64 * 1024), as: UTF8.self)
        let response = SentryResponse(
            status: status, retryAfter: collector.header("retry-after").map { Double($0) ?? 60 },
            rateLimits: collector.header("x-sentry-rate-limits"),
            eventID: (try? JSONValue.decode(Array(body.utf8)))?["id"]?.stringValue, body: body)
        guard (200..<300).contains(status) else { throw .rejected(url: url, response: response) }
        return response
    }
}

/// Collects a response's body and headers from libcurl's callbacks (header lines come from
/// libcurl one by one, already split; only name and value are separated here).
private final class ResponseCollector {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []

    func header(_ name: String) -> String? { headers.last { $0.name == name }?.value }

    static let bodyCallback: ivk_curl_callback = { data, size, count, context in
        guard let data, let context else { return 0 }
        let collector = Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
        let length = size * count
        if collector.body.count < 1 << 20 {
            collector.body += UnsafeRawBufferPointer(start: data, count: length)
        }
        return length
    }

    static let headerCallback: ivk_curl_callback = { data, size, count, context in
        guard let data, let context else { return 0 }
        let collector = Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
        let length = size * count
        // Without its CR LF: Swift reads "\r\n" as one Character, which whitespace trimming misses.
        var bytes = Array(UnsafeRawBufferPointer(start: data, count: length))
        while let last = bytes.last, last == 0x0d || last == 0x0a { bytes.removeLast() }
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix("HTTP/") { collector.headers.removeAll() }  // a new response (after a 100 Continue)
        if let colon = line.firstIndex(of: ":") {
            collector.headers.append((line[..<colon].trimmingWhitespace().lowercased(),
                                      line[line.index(after: colon)...].trimmingWhitespace()))
        }
        return length
    }
}
