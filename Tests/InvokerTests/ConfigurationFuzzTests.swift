// The configuration loader against hostile files: too large, NUL bytes, invalid UTF-8, huge
// chains, and a seeded random campaign of mutated files. Whatever the bytes, the loader returns
// a configuration or a ConfigurationError: it never traps (a trap would end the test process),
// and it takes time linear in the file.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
@testable import Invoker
import TracerKit

/// Writes bytes to a fresh root-owned file (0600, in a 0700 directory) and returns its path.
private func writeBytes(_ bytes: [UInt8]) -> String {
    let path = makeTemporaryDirectory("invoker-conf") + "/invoker.conf"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    return path
}

private func writeBytesTo(_ path: String, _ bytes: [UInt8]) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
}

private func loadError(_ path: String) -> String? {
    do {
        _ = try ConfigurationLoader.load(path: path)
        return nil
    } catch {
        return error.description
    }
}

@Suite(.timeLimit(.minutes(1))) struct ConfigurationFuzzTests {
    @Test func aFileOverOneMebibyteIsRefusedNotCut() {
        // The tracer after the cut used to vanish silently.
        let padding = "# " + String(repeating: "x", count: 1 << 20) + "\n"
        let path = writeBytes(Array((padding + "[[tracer]]\nexec = [\"/bin/true\"]\n").utf8))
        #expect(loadError(path) == "\(path): the file is larger than 1 MiB; refusing it rather than reading part of it")
    }

    @Test func aNulByteOrInvalidUTF8IsRefusedWithItsLine() {
        let nul = writeBytes(Array("deadline = 5\n".utf8) + [0] + Array("\n[[tracer]]\nexec = [\"/bin/true\"]\n".utf8))
        #expect(loadError(nul) == "\(nul):2: a NUL byte at offset 13; a configuration is text")
        let latin1 = writeBytes(Array("deadline = 5\n# caf".utf8) + [0xE9] + Array("\n".utf8))
        #expect(loadError(latin1) == "\(latin1):2: not valid UTF-8 near offset 18; a configuration is UTF-8 text")
    }

    @Test func chainsAreBoundedAndCheckedInLinearTime() throws {
        let entry = "[[tracer]]\nexec = [\"/bin/true\"]\ntimeout = 1\n"
        let start = ContinuousClock.now
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(String(repeating: entry, count: 10_000), file: "big.conf")
        }
        #expect(ContinuousClock.now - start < .seconds(10), "10,000 tracers took 27 s (quadratic) before")
        do {
            _ = try ConfigurationLoader.parse(String(repeating: entry, count: 65), file: "big.conf")
        } catch {
            #expect(error.description == "big.conf:1: tracer: 65 tracers; a chain has at most 64 (the server waits for all of them)")
        }
        #expect(try ConfigurationLoader.parse(String(repeating: entry, count: 64), file: "ok.conf").tracers.count == 64)
        // The error of the last of 64 tracers is located without rescanning the file per tracer.
        let bad = String(repeating: entry, count: 63) + "[[tracer]]\nexec = [\"/bin/true\"]\ntimeout = 0\n"
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parse(bad, file: "bad.conf") }
        do { _ = try ConfigurationLoader.parse(bad, file: "bad.conf") } catch {
            #expect(error.description.hasPrefix("bad.conf:192: tracer[64].timeout:"))
        }
    }

    /// A seeded campaign: valid files mutated byte by byte and token by token, each parsed.
    /// Reproduce a run with INVOKER_FUZZ_SEED; INVOKER_FUZZ_SECONDS runs longer (default 2).
    @Test func mutatedFilesNeverTrapTheLoader() throws {
        let seeds = [
            "output_dir = \"/var/tmp\"\nformats = [\"text\", \"json\"]\ndeadline = 12.5\nfailure_policy = \"stop\"\nmax_output_bytes = 4096\nretention = 10\nearly_release = false\n",
            "[[tracer]]\nuse = \"unwind\"\nmax_frames = 64\n[[tracer]]\nuse = \"process\"\nredact = [\"PIN\"]\nmaps = \"full\"\nmax_descriptors = 8\n",
            "[[tracer]]\nuse = \"unwind\"\n[[tracer]]\nuse = \"variables\"\nthreads = \"all\"\nmax_depth = 3\nmax_elements = 50\nmax_value_bytes = 1024\nmax_total_bytes = 65536\ntimeout = 0.25\nglobals = [\"a\", \"b::c\"]\n",
            "[[tracer]]\nname = \"gdb\"\nexec = [\"/usr/bin/gdb\", \"-p\", \"%p\", \"%%\"]\ntimeout = 5\nuser = \"root\"\nenv = { LANG = \"C\" }\ninherit_env = \"none\"\ncwd = \"/tmp\"\n",
        ].map { Array($0.utf8) }
        let tokens = ["1e10", "1e300", "-0", "nan", "inf", "-inf", "9223372036854775807", "-9223372036854775808", "0x7fffffffffffffff",
                      "1e-300", "\"\"", "[]", "{}", "[[tracer]]", "[tracer]", "=", "\"%\"", "\"%z\"", "\\u0000", "\"\\uD800\"", "\n",
                      "#", "'''", "\"\"\"", "true", "1979-05-27T07:32:00Z", "[[", "]]", ".", "a.b.c = 1", "\u{FEFF}", "\u{0}"]
            .map { Array($0.utf8) }
        let seedValue = ProcessInfoSeed.value
        var generator = SeededGenerator(seed: seedValue)
        let seconds = Double(LogDirectory.currentEnvironment()["INVOKER_FUZZ_SECONDS"] ?? "") ?? 2
        let start = ContinuousClock.now
        var runs = 0, accepted = 0
        // INVOKER_FUZZ_TRACE=PATH: each input is written there first (the one that crashed stays).
        let trace = LogDirectory.currentEnvironment()["INVOKER_FUZZ_TRACE"]
        while ContinuousClock.now - start < .milliseconds(Int(seconds * 1000)) {
            var bytes = seeds[Int(generator.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(generator.next() % 8)) {
                let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: if !bytes.isEmpty { bytes[position] = UInt8(truncatingIfNeeded: generator.next()) }
                case 1: if !bytes.isEmpty { bytes.remove(at: position) }
                case 2: bytes.insert(contentsOf: tokens[Int(generator.next() % UInt64(tokens.count))], at: position)
                default:
                    // Replace a number-looking run with a hostile token.
                    let token = tokens[Int(generator.next() % 10)]
                    let end = min(bytes.count, position + Int(generator.next() % 6))
                    bytes.replaceSubrange(position..<end, with: token)
                }
            }
            if let trace { _ = writeBytesTo(trace, bytes) }
            if let text = try? ConfigurationLoader.decode(bytes, file: "fuzz.conf"),
               (try? ConfigurationLoader.parse(text, file: "fuzz.conf")) != nil {
                accepted += 1
            }
            runs += 1
        }
        // Whatever was accepted is in range: the run never traps on it either.
        print("configuration fuzz: seed \(seedValue), \(runs) files in \(seconds) s, \(accepted) accepted, no trap")
        #expect(runs > 100)
    }
}

/// The campaign's seed: INVOKER_FUZZ_SEED, else a random one (printed, to reproduce).
enum ProcessInfoSeed {
    static var value: UInt64 {
        if let text = LogDirectory.currentEnvironment()["INVOKER_FUZZ_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: .min ... .max)
    }
}
