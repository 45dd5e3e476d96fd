#!/usr/bin/env python3
"""Which 64 KB windows of each file a parked helper touches, and which function touched each first.

    bench/parked-windows.py [--helper PATH] [--list SECTION] [--phase SYMBOL ...]

A read fault on a file mapping maps the 64 KB fault-around window around it (when the page cache
holds the file in small pages, as it does for the file lld writes), so a parked helper's RSS is
counted in such windows. This runs the helper (default: the release build's invoker) under
`valgrind --tool=lackey --trace-mem=yes` with Traffic Server's command line until it stops itself,
maps every instruction and data address to its file, section and 64 KB window, and prints the
windows by section and by phase: a phase begins when a function named with --phase first runs
(e.g. `main`, or a mangled Swift name from `nm`). With --list SECTION (".text", ".rodata",
"libc.so.6 r-xp") it lists those windows with the function that touched each first and, for data,
the symbol read. valgrind cannot read the binary's DWARF 5: it runs a copy without debug sections.
The figures are a model (windows are counted from the file's start, not from where ASLR put it,
and a window that two small sections share is counted for each);
bench/README.md ("The parking path's pass") compares them with /proc/PID/pagemap.
"""

import argparse, bisect, collections, os, socket, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WINDOW = 64 * 1024


def symbols(binary):
    table = []
    for line in subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            table.append((int(fields[0], 16), fields[2]))
    return table


def sections(binary):
    table = []
    for line in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        if line.strip().startswith("[") and "]" in line:
            fields = line.split("]", 1)[1].split()
            try:
                address, size = int(fields[2], 16), int(fields[4], 16)
            except (IndexError, ValueError):
                continue
            if address:
                table.append((address, address + size, fields[0]))
    return sorted(table)


def trace(binary, work):
    """Runs `binary` under lackey until it parks; returns the trace's path and the process's maps."""
    log = os.path.join(work, "lackey.out")
    server, helper_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        os.dup2(helper_end.fileno(), 0)
        os.execvp("valgrind", ["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-file={log}", binary,
                               "--syslog", "--wait", "--host", "x86_64-pc-linux-gnu", "--user", "root",
                               "--log-dir", work])
    _, status = os.waitpid(pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        raise RuntimeError(f"the helper did not park (status {status:#x})")
    maps = open(f"/proc/{pid}/maps").read()
    os.kill(pid, 9)
    os.kill(pid, 18)
    os.waitpid(pid, 0)
    return log, maps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--helper", default=os.path.join(ROOT, ".build", "release", "invoker"))
    parser.add_argument("--phase", action="append", default=[])
    parser.add_argument("--list")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="invoker-parked-windows-")
    binary = os.path.join(work, "invoker")
    subprocess.run(["objcopy", "--strip-debug", args.helper, binary], check=True)
    log, maps_text = trace(binary, work)

    maps = []
    for line in maps_text.splitlines():
        fields = line.split()
        low, high = (int(x, 16) for x in fields[0].split("-"))
        maps.append((low, high, fields[1], int(fields[2], 16), os.path.basename(fields[5]) if len(fields) > 5 else None))
    maps.sort()
    starts = [m[0] for m in maps]
    base = min(m[0] - m[3] for m in maps if m[4] == "invoker")
    symbol_table = symbols(binary)
    symbol_addresses = [address for address, _ in symbol_table]
    section_table = sections(binary)
    section_starts = [s[0] for s in section_table]
    phase_at = {address + base: name for address, name in symbol_table if name in set(args.phase)}

    def symbol(offset):
        index = bisect.bisect_right(symbol_addresses, offset) - 1
        return symbol_table[index][1] if index >= 0 else "?"

    def section(offset):
        index = bisect.bisect_right(section_starts, offset) - 1
        return section_table[index][2] if index >= 0 and offset < section_table[index][1] else "?"

    first = {}
    phase, toucher = "before the first --phase", "?"
    for line in open(log, errors="replace"):
        kind = line[:2].strip()
        if kind not in ("I", "L", "S", "M"):
            continue
        address = int(line[3:].split(",")[0], 16)
        if kind == "I" and address in phase_at:
            phase = phase_at[address]
        index = bisect.bisect_right(starts, address) - 1
        if index < 0 or address >= maps[index][1] or maps[index][4] is None:
            continue
        low, _, permissions, offset, name = maps[index]
        if name == "invoker":
            file_offset = address - base
            if kind == "I":
                toucher = symbol(file_offset)
            key = ("invoker " + section(file_offset), file_offset // WINDOW)
            target = symbol(file_offset) if kind != "I" else ""
        else:
            key = (f"{name} {permissions}", (address - low + offset) // WINDOW)
            target = ""
        if key not in first:
            first[key] = (phase, toucher, target)

    by_region = collections.Counter(region for region, _ in first)
    print("KB by file and section (64 KB windows):")
    for region, count in by_region.most_common():
        print(f"{count * 64:7} {region}")
    print(f"{sum(by_region.values()) * 64:7} in all\n")
    by_phase = collections.Counter((phase, region) for (region, _), (phase, _, _) in first.items())
    print("KB by phase:")
    for (phase, region), count in sorted(by_phase.items()):
        print(f"{count * 64:7} {phase[:60]:60} {region}")
    if args.list:
        print(f"\nwindows of {args.list}: offset, phase, first function to touch it, symbol read")
        for (region, window), (phase, toucher, target) in sorted(first.items()):
            if args.list in region:
                print(f"{region:28} {window * 64:8} KB  {phase[:40]:40} {toucher[:70]:70} {target[:70]}")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
