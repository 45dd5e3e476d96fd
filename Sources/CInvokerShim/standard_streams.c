// The C++ standard streams' initializer, left out of the invoker executable (Package.swift links
// it with --wrap for std::ios_base::Init's constructor and destructor).
//
// Every C++ file that includes <iostream> (TOMLKit's CTOML, ICU's calendars) constructs a static
// std::ios_base::Init before main, and with libstdc++ 12 the first one builds std::cout, std::cin,
// std::cerr, std::clog and their wide twins, and with them the classic locale's 28 facets: about
// 0.45 MB of the parked helper's pages (libstdc++'s locale code and data, libc's locale code) and
// part of its start-up, for streams that nothing in the executable uses. The link sends those
// constructor and destructor calls here, so libstdc++'s ios_init.o and the stream objects are not
// linked at all; the classic locale is still made on first use by whatever needs it (toml++'s
// string streams, std::locale::classic()).
//
// The same link also --wraps the stream objects themselves (std::cout and the rest) without
// defining them: any object that starts using one fails the link with "undefined symbol:
// __wrap__ZSt4cout", instead of reaching an unconstructed stream at run time.

void __wrap__ZNSt8ios_base4InitC1Ev(void *init);
void __wrap__ZNSt8ios_base4InitD1Ev(void *init);

void __wrap__ZNSt8ios_base4InitC1Ev(void *init) { (void)init; }
void __wrap__ZNSt8ios_base4InitD1Ev(void *init) { (void)init; }
