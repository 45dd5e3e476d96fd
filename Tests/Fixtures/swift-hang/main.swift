// swift-hang: a Swift program whose main thread blocks in a known chain, for comparing invoker's
// frames with eu-stack's. Built by the tests with swiftc (-g -Onone
// -Xllvm -generate-arange-section, without which elfutils 0.188 finds no lines).
//
//   swift-hang           writes "ready <pid>\n" to fd 3, then blocks forever
//
// Main thread, innermost first: read -> main.levelOne(_:) -> main.levelTwo(_:) -> main
#if canImport(Glibc)
import Glibc
#endif

@inline(never)
func levelOne(_ marker: Int) -> Int {
    let line = "ready \(getpid())\n"
    _ = line.withCString { write(3, $0, strlen($0)) }
    close(3)
    var fds: [Int32] = [0, 0]
    _ = pipe(&fds)
    var byte: UInt8 = 0
    while read(fds[0], &byte, 1) < 0 {}
    return marker + Int(byte)
}

@inline(never)
func levelTwo(_ marker: Int) -> Int {
    levelOne(marker + 1) + 1
}

exit(Int32(levelTwo(1)))
