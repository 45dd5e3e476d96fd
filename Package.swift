// swift-tools-version: 6.2
//
// invoker: a Linux crash helper. One executable (`invoker`), the `TracerKit` library every tracer
// builds on, the built-in tracers, and the C fixture programs the end-to-end tests crash on purpose.

import PackageDescription

let fixtureFlags: [CSetting] = [
    .unsafeFlags(["-O0", "-g", "-gdwarf-aranges", "-fno-omit-frame-pointer", "-Wall", "-Wextra"]),
    .define("_GNU_SOURCE"),
]

// Release builds put every function of ours in a section of its own (the Swift runtime's C++
// part already is), so lld can lay out the functions a helper runs from exec to its park together
// (bench/startup-order.txt, made by bench/startup-order.py): the parked helper's resident text,
// 64 KB fault-around windows of the binary, fell from 7.9 to 2.5 MB (bench/README.md).
let releaseFunctionSections: SwiftSetting = .unsafeFlags(["-Xfrontend", "-function-sections"], .when(configuration: .release))
let releaseCFunctionSections: CSetting = .unsafeFlags(["-ffunction-sections"], .when(configuration: .release))

// Linker flags that leave the C++ standard streams out of the executable: the two calls every
// <iostream> file makes before main go to no-op functions (Sources/CInvokerShim/standard_streams.c),
// and a reference to any of the eight stream objects fails the link.
let standardStreamsLeftOut: [String] =
    ["_ZNSt8ios_base4InitC1Ev", "_ZNSt8ios_base4InitD1Ev",
     "_ZSt3cin", "_ZSt4cout", "_ZSt4cerr", "_ZSt4clog", "_ZSt4wcin", "_ZSt5wcout", "_ZSt5wcerr", "_ZSt5wclog"]
    .flatMap { ["-Xlinker", "--wrap=\($0)"] }

let package = Package(
    name: "invoker",
    products: [
        .executable(name: "invoker", targets: ["Invoker"]),
        .library(name: "TracerKit", targets: ["TracerKit"]),
        // The fault suite's shared library (fault-server --dlopen): built as a .so of its own.
        .library(name: "fault-library", type: .dynamic, targets: ["fault-library"]),
        // libinvoker-client.so: the ATS handshake for any program (LD_PRELOAD or -linvoker-client).
        .library(name: "invoker-client", type: .dynamic, targets: ["InvokerClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System libraries from Debian: libunwind-dev, libelf-dev, libdw-dev.
        .systemLibrary(name: "CUnwind", path: "Sources/CUnwind"),
        .systemLibrary(name: "CElfutils", path: "Sources/CElfutils"),
        // Sentry forwarding: zlib1g-dev (gzip), and libcurl4-openssl-dev's headers for libcurl,
        // which CCurl loads with dlopen only when a report is sent (never in a parked helper).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "CCurl", path: "Sources/CCurl", cSettings: [releaseCFunctionSections], linkerSettings: [.linkedLibrary("dl")]),
        // The JSON report's writer: libyajl-dev's generator, from its static archive.
        .systemLibrary(name: "CYajl", path: "Sources/CYajl"),
        // C shims, one per concern, each linking only what it calls: syscalls, payload layouts,
        // the crash guard and libdwfl's process callbacks (TracerKit's); libunwind's macro-named
        // entry points and the demanglers (the unwinder's and the symbolizer's, in Tracers).
        .target(
            name: "CInvokerShim",
            dependencies: ["CElfutils"],
            path: "Sources/CInvokerShim",
            cSettings: [.define("_GNU_SOURCE"), releaseCFunctionSections],
            linkerSettings: [.linkedLibrary("dw"), .linkedLibrary("elf")]
        ),
        .target(
            name: "CUnwindShim",
            dependencies: ["CUnwind"],
            path: "Sources/CUnwindShim",
            cSettings: [releaseCFunctionSections],
            linkerSettings: [
                .linkedLibrary("unwind-ptrace"), .linkedLibrary("unwind-generic"), .linkedLibrary("unwind"),
                .linkedLibrary("lzma"),
            ]
        ),
        .target(
            name: "CDemangleShim",
            path: "Sources/CDemangleShim",
            cSettings: [releaseCFunctionSections],
            linkerSettings: [.linkedLibrary("stdc++"), .linkedLibrary("iberty")]
        ),
        // libinvoker-client: plain C (no Swift runtime), so it can be preloaded into any program.
        .target(
            name: "InvokerClient",
            path: "Sources/InvokerClient",
            cSettings: [.define("_GNU_SOURCE"), .unsafeFlags(["-fvisibility=hidden", "-O2", "-g"])],
            // swiftc links every library with the Swift runtime: -nostartfiles drops its image
            // registration (swiftrt.o), and -static-stdlib names the static runtime, of which
            // nothing is pulled in (nothing here calls Swift). Left: libc, libm, libstdc++.
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread"),
                             .unsafeFlags(["-nostartfiles", "-static-stdlib", "-Xlinker", "--as-needed"])]
        ),
        .target(
            name: "TracerKit",
            dependencies: [
                "CInvokerShim", "CElfutils",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: [releaseFunctionSections]
        ),
        .target(
            name: "Tracers",
            dependencies: [
                "TracerKit", "CInvokerShim", "CUnwindShim", "CDemangleShim", "CUnwind", "CElfutils",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: [releaseFunctionSections]
        ),
        .executableTarget(
            name: "Invoker",
            dependencies: [
                "TracerKit", "Tracers", "CInvokerShim", "CCurl", "CZlib", "CYajl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: [releaseFunctionSections],
            // Release builds link with lld and pack the ~90,000 relative relocations (DT_RELR,
            // glibc 2.36+): the loader no longer reads 2 MB of them at every start-up, which the
            // parked helper then kept resident (bench/README.md, start-up and parked RSS); and
            // lay out the start-up path's functions together (bench/startup-order.txt).
            // --no-export-dynamic: SwiftPM and the static stdlib export every symbol of the
            // executable (12,500); each library's symbol lookup searched that table first and
            // dladdr (the runtime's, at start-up) walked it: 1.6 MB of the parked helper. What a
            // shared library calls in us stays exported (lld exports a definition a linked DSO
            // references: the unwinder shim's sigprocmask for libunwind).
            // link/static comes first in the library path: its linker scripts make -lstdc++,
            // -lgcc_s, -lsqlite3, -ldw, -lelf and -lz take Debian's static archives, so the loader
            // maps and relocates 7 libraries instead of 13 (libstdc++ and SQLite alone made 3,200
            // of its 3,600 symbol lookups). libunwind's archives are not PIC and stay shared, as do
            // liblzma (which they need), libm and libc.
            // The C++ standard streams' static initializer becomes a no-op and std::cout and the
            // rest a link error (Sources/CInvokerShim/standard_streams.c says why).
            linkerSettings: [.unsafeFlags(standardStreamsLeftOut),
                             .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                                           "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/bench/startup-order.txt",
                                           "-Xlinker", "--no-warn-symbol-ordering",
                                           "-Xlinker", "--no-export-dynamic",
                                           "-L", "\(Context.packageDirectory)/link/static"],
                                          .when(configuration: .release))]
        ),

        // C fixtures: programs with known stacks that crash on purpose (see each main.c's header).
        .executableTarget(name: "ats-crasher", dependencies: ["ats-crasher-float", "ats-handshake"], path: "Tests/Fixtures/ats-crasher",
                          cSettings: fixtureFlags, linkerSettings: [.linkedLibrary("pthread")]),
        // Its one optimized function (clang ignores per-function optimize attributes).
        .target(name: "ats-crasher-float", path: "Tests/Fixtures/ats-crasher-float",
                cSettings: [.unsafeFlags(["-O2", "-g", "-fno-omit-frame-pointer"])]),
        // The fault suite's server: sends any payload bytes, keeps its socket open, has threads
        // that cannot be stopped or unwound (see its main.c's header).
        // Traffic Server's side of the helper handshake, shared by the two fixtures that play a server.
        .target(name: "ats-handshake", path: "Tests/Fixtures/ats-handshake", cSettings: fixtureFlags),
        .executableTarget(name: "fault-server", dependencies: ["ats-handshake"], path: "Tests/Fixtures/fault-server", cSettings: fixtureFlags,
                          linkerSettings: [.linkedLibrary("pthread")]),
        .target(name: "fault-library", path: "Tests/Fixtures/fault-library", cSettings: fixtureFlags),

        // Real child processes for tests, and the "nothing left stopped, traced or zombie" check.
        .target(name: "TestSupport", dependencies: ["TracerKit", "CInvokerShim"], path: "Tests/TestSupport"),
        // Programs run with libinvoker-client preloaded (see its main.c's header).
        .executableTarget(name: "client-fixture", path: "Tests/Fixtures/client-fixture", cSettings: fixtureFlags,
                          linkerSettings: [.linkedLibrary("pthread"), .linkedLibrary("dl")]),
        // Dies of SIGSEGV with known stacks and no handler: the kernel's core (see its main.c).
        .executableTarget(name: "core-crasher", path: "Tests/Fixtures/core-crasher", cSettings: fixtureFlags,
                          linkerSettings: [.linkedLibrary("pthread")]),
        .executableTarget(name: "cpp-hang", path: "Tests/Fixtures/cpp-hang",
                          cxxSettings: [.unsafeFlags(["-O2", "-g", "-gdwarf-aranges", "-fno-omit-frame-pointer"])],
                          linkerSettings: [.linkedLibrary("pthread")]),

        // The benchmark's target (bench/run.py): N threads D frames deep, the ATS handshake.
        .executableTarget(name: "bench-target", path: "bench/target",
                          cSettings: [.unsafeFlags(["-O2", "-g", "-fno-omit-frame-pointer"]), .define("_GNU_SOURCE")],
                          linkerSettings: [.linkedLibrary("pthread")]),

        .testTarget(
            name: "TracerKitTests",
            dependencies: ["TracerKit", "Tracers", "CInvokerShim", "CElfutils", "TestSupport"]
        ),
        .testTarget(
            name: "InvokerTests",
            dependencies: ["TracerKit", "Invoker", "TestSupport", "ats-crasher", "cpp-hang", "fault-server", "CZlib", "client-fixture", "core-crasher",
                           .product(name: "GRDB", package: "GRDB.swift")],
            // The text layouts' golden files and a real traffic_crashlog log, read by path.
            exclude: ["Golden"]
        ),
    ]
)
