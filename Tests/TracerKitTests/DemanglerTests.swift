// Demangling of the languages servers are written in: C++, Rust (legacy and v0), Swift; plain C
// names pass through.

import Testing
import Tracers

@Suite(.timeLimit(.minutes(1))) struct DemanglerTests {
    @Test(arguments: [
        ("_ZN7fixture4deep5blockEi", "fixture::deep::block(int)"),
        ("_ZNK7fixture4deep3BoxIiE5twiceEv", "fixture::deep::Box<int>::twice() const"),
        ("_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write"),
        ("_RNvCsbmNqQUJIY6D_4core3foo", "core::foo"),
        ("$s4main3fooyyF", "main.foo() -> ()"),
        ("fixture_crash_segv", "fixture_crash_segv"),
        ("_Z", "_Z"),
    ])
    func demangles(mangled: String, expected: String) {
        #expect(Demangler.demangle(mangled) == expected)
    }
}
