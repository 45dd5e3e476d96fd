// SentryDSN: a Sentry project's Data Source Name, `SCHEME://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT_ID`,
// and the two things invoker derives from it: the envelope endpoint and the X-Sentry-Auth header.
// The URL is split by Foundation's URL parser; this type only checks the parts Sentry requires.

import FoundationEssentials
import TracerKit

/// A parsed, validated Sentry DSN.
struct SentryDSN: Equatable, Sendable {
    /// The DSN as written (it holds the project's public key: never put it in a report).
    let text: String
    let scheme: String
    let publicKey: String
    let host: String
    let port: Int?
    /// The path before the project id ("" for SaaS; a prefix when Sentry is served under one).
    let pathPrefix: String
    let projectID: String

    /// Parses `text`; the error is a sentence naming what is wrong.
    init(_ text: String) throws(SentryDSNError) {
        let trimmed = text.trimmingWhitespace()
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased() else {
            throw SentryDSNError(dsn: text, problem: "it is not a URL")
        }
        guard scheme == "https" || scheme == "http" else {
            throw SentryDSNError(dsn: text, problem: "the scheme must be https (or http for a local relay), not \(scheme)")
        }
        guard let host = url.host, !host.isEmpty else { throw SentryDSNError(dsn: text, problem: "it names no host") }
        guard let key = url.user, !key.isEmpty else {
            throw SentryDSNError(dsn: text, problem: "it has no public key (write it as https://KEY@HOST/PROJECT)")
        }
        let components = url.path.split(separator: "/").map(String.init)
        guard let project = components.last, !project.isEmpty, project.allSatisfy(\.isNumber) else {
            throw SentryDSNError(dsn: text, problem: "its path must end with the numeric project id (https://KEY@HOST/PROJECT)")
        }
        self.text = trimmed
        self.scheme = scheme
        self.publicKey = key
        self.host = host
        self.port = url.port
        self.pathPrefix = components.dropLast().map { "/" + $0 }.joined()
        self.projectID = project
    }

    /// Where envelopes go: `SCHEME://HOST[:PORT][PREFIX]/api/PROJECT/envelope/`.
    var envelopeURL: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart)\(port.map { ":\($0)" } ?? "")\(pathPrefix)/api/\(projectID)/envelope/"
    }

    /// The X-Sentry-Auth header's value (protocol version 7; the key is public by design).
    func authHeader(clientVersion: String) -> String {
        "Sentry sentry_key=\(publicKey), sentry_version=7, sentry_client=invoker/\(clientVersion)"
    }

    /// The DSN with its key hidden, for messages and listings.
    var redacted: String { text.replacingOccurrences(of: publicKey + "@", with: "***@") }
}

/// A DSN that cannot be used.
struct SentryDSNError: Error, CustomStringConvertible, Equatable {
    var dsn: String
    var problem: String
    var description: String { "not a usable Sentry DSN: \(problem)" }
}
