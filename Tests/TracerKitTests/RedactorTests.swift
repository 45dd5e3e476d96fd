// Redactor: secrets are recognised by name and by the shape of their value, in command lines,
// environments and free text; ordinary text passes unchanged.

import Testing
import TracerKit

@Suite(.timeLimit(.minutes(1))) struct RedactorTests {
    let redactor = Redactor()

    @Test(arguments: [
        // Names.
        ("MYSQL_PWD=hunter2", "MYSQL_PWD=<redacted>"),
        ("DB_PASSWORD=hunter2", "DB_PASSWORD=<redacted>"),
        ("GPG_PASSPHRASE=open sesame", "GPG_PASSPHRASE=<redacted>"),
        ("SLACK_WEBHOOK=x", "SLACK_WEBHOOK=<redacted>"),
        ("SMTP_PASS=x", "SMTP_PASS=<redacted>"),
        // Values, whatever the name.
        ("DATABASE_URL=postgres://app:hunter2@db.internal:5432/app", "DATABASE_URL=postgres://app:<redacted>@db.internal:5432/app"),
        ("UPSTREAM=https://ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/org/repo", "UPSTREAM=https://<redacted>@github.com/org/repo"),
        ("HDR=Authorization: Bearer abc.def-ghi", "HDR=Authorization: Bearer <redacted>"),
        ("NOTIFY=https://hooks.slack.com/services/T000/B000/XXXXXXXX", "NOTIFY=https://hooks.slack.com/<redacted>"),
        ("HOOK=https://discord.com/api/webhooks/123/abcdef", "HOOK=https://discord.com/<redacted>"),
        ("JWT_DEBUG=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "JWT_DEBUG=<redacted>"),
        ("AWS_ID=AKIAIOSFODNN7EXAMPLE", "AWS_ID=<redacted>"),
        ("BOT=xoxb-123456789012-abcdefghij", "BOT=<redacted>"),
        ("STRIPE=sk_live_abcdefghij0123456789", "STRIPE=<redacted>"),
        ("CALLBACK=https://api.example.com/cb?user=bob&token=s3cr3t&x=1", "CALLBACK=https://api.example.com/cb?user=bob&<redacted>&x=1"),
        // Ordinary values stay.
        ("PWD=/var/lib/trafficserver", "PWD=/var/lib/trafficserver"),
        ("PATH=/usr/bin:/bin", "PATH=/usr/bin:/bin"),
        ("HOME_URL=https://www.example.com/path?a=1", "HOME_URL=https://www.example.com/path?a=1"),
    ])
    func environmentEntries(entry: String, expected: String) {
        let got = redactor.redactEnvironmentEntry(entry)
        // The query parameter keeps its name: token=<redacted>.
        #expect(got == expected.replacingOccurrences("&<redacted>&", "&token=<redacted>&"))
    }

    @Test func commandLines() {
        #expect(redactor.redactArguments(["/usr/bin/mysql", "-uroot", "-phunter2", "db"]) == ["/usr/bin/mysql", "-uroot", "-p<redacted>", "db"])
        #expect(redactor.redactArguments(["server", "--password=hunter2", "--db-password", "hunter3", "--port", "80"])
                == ["server", "--password=<redacted>", "--db-password", "<redacted>", "--port", "80"])
        #expect(redactor.redactArguments(["redis-cli", "-a", "hunter2", "-p", "6379"]) == ["redis-cli", "-a", "<redacted>", "-p", "6379"])
        #expect(redactor.redactArguments(["curl", "https://user:pw@example.com/"]) == ["curl", "https://user:<redacted>@example.com/"])
        // -p means a port elsewhere.
        #expect(redactor.redactArguments(["traffic_server", "-p8080"]) == ["traffic_server", "-p8080"])
    }

    @Test func freeTextIsRedactedAndOtherwiseUntouched() {
        let output = "connecting to mysql://root:hunter2@localhost\nauth: Bearer abcdef123\npassword: hunter4\n#0  main () at x.c:3\n"
        #expect(redactor.redactText(output)
                == "connecting to mysql://root:<redacted>@localhost\nauth: Bearer <redacted>\npassword: <redacted>\n#0  main () at x.c:3\n")
        let plain = "Thread 1 (LWP 42):\n#0  0x00007f in __GI___wait4 (pid=-1, stat_loc=0x7ffc) at wait4.c:30\n"
        #expect(redactor.redactText(plain) == plain)
        // A second pass changes nothing.
        let once = redactor.redactText(output)
        #expect(redactor.redactText(once) == once)
    }

    @Test func sanitizedEnvironmentDropsSecrets() {
        let environment = ["PATH": "/usr/bin", "MYSQL_PWD": "x", "REPO": "https://u:p@h/", "LANG": "C"]
        #expect(redactor.sanitizedEnvironment(environment) == ["PATH": "/usr/bin", "LANG": "C"])
    }

    /// A tracer's whole output (1 MiB by default) is scanned in well under a second in a release
    /// build; this debug-build bound only catches a quadratic scan.
    @Test func aMegabyteOfOutputIsQuick() {
        let line = "#12 0x00005555 in worker_loop (ctx=0x7ffff0001234, token_count=3) at server.c:1234\n"
        let text = String(repeating: line, count: (1 << 20) / line.utf8.count)
        let start = ContinuousClock.now
        #expect(redactor.redactText(text) == text)
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
