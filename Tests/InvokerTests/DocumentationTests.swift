// The documentation stays true to the code: the man pages render without warnings, every option
// `--help` lists is in invoker(8), every configuration key is in invoker.conf(5) and in the
// example, and the example is a valid configuration.

#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
@testable import Invoker

/// The package root (two levels above this file's folder).
let packageRoot: String = {
    let file = #filePath
    return file.split(separator: "/").dropLast(3).reduce("") { $0 + "/" + $1 }
}()

@Suite(.timeLimit(.minutes(1))) struct DocumentationTests {
    @Test(arguments: ["man/invoker.8", "man/invoker.conf.5", "man/libinvoker-client.3"])
    func manPageRendersWithoutWarnings(page: String) throws {
        let directory = makeTemporaryDirectory()
        let groff = try TestProcess("/usr/bin/groff", ["-mandoc", "-ww", "-z", packageRoot + "/" + page],
                                    outputPath: directory + "/warnings.txt")
        #expect(groff.waitForExit() == 0)
        #expect(readFile(directory + "/warnings.txt") == "")
    }

    @Test(arguments: [["help", "helper"], ["snapshot", "--help"], ["check-config", "--help"], ["list", "--help"], ["show", "--help"],
                      ["groups", "--help"], ["resolve", "--help"], ["store", "rebuild", "--help"], ["core", "--help"],
                      ["cache-debug-info", "--help"]])
    func everyOptionIsInTheManual(help: [String]) throws {
        let manual = try #require(readFile(packageRoot + "/man/invoker.8"))
        let (_, output) = try runInvoker(help)
        let options = output.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" })
            .filter { $0.hasPrefix("--") && $0.count > 2 }.map(String.init)
        #expect(!options.isEmpty)
        for option in Set(options) where option != "--help" || help != ["help", "helper"] {
            // mdoc escapes dashes: --pid-file is written \-\-pid\-file (after Fl, one dash is implied).
            let escaped = option.dropFirst().replacingAll("-", with: "\\-")
            #expect(manual.contains("Fl " + escaped) || manual.contains(option), "\(option) is not in invoker.8")
        }
    }

    @Test func everyConfigurationKeyIsDocumentedAndTheExampleIsValid() throws {
        let manual = try #require(readFile(packageRoot + "/man/invoker.conf.5"))
        let example = try #require(readFile(packageRoot + "/invoker.conf.example"))
        let keys = Set(ConfigurationLoader.globalKeys + ConfigurationLoader.externalKeys + ConfigurationLoader.builtinKeys
                       + ConfigurationLoader.storeKeys + ConfigurationLoader.notifyKeys).subtracting(["tracer"])
        for key in keys {
            #expect(manual.contains("Li \(key)"), "\(key) is not in invoker.conf.5")
            #expect(example.contains(key + " ") || example.contains(key + " ="), "\(key) is not in invoker.conf.example")
        }
        _ = try ConfigurationLoader.parse(example, file: "invoker.conf.example")
    }
}

extension Substring {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        reduce(into: "") { $0 += $1 == target ? replacement : String($1) }
    }
}
