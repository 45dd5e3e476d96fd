#!/usr/bin/env python3
"""Regenerates bench/startup-order.txt: the functions a crash helper runs from exec to its park.

    bench/startup-order.py [--out bench/startup-order.txt]

Builds the release `invoker` (Swift stdlib static) and `bench-target`, lets bench-target fork the
helper under valgrind's callgrind (`--dump-before=raise`: the profile is written as the helper
raises its SIGSTOP), and writes the invoker binary's functions of that profile, mangled, one a
line: lld's `--symbol-ordering-file`, which lays them out together so the parked helper faults in
fewer 64 KB fault-around windows of the binary's text (bench/README.md, start-up). A name that
several local functions share is left out (see below). Functions the file names that a later
build no longer has are ignored by lld (`--no-warn-symbol-ordering`); regenerate it when the
start-up path changes. After the functions come the few data symbols the Swift runtime reads at
image registration (dynamic_replacements below), which lld places at the start of .rodata.

With --keep-sequence the committed file's sequence is kept: the names it lists that still run stay
where they are, the ones that no longer run are dropped and the new ones follow at the end. The
sequence decides where the big sections (the standard library's one .text section, whole files of
the packages) fall among the start-up functions, and so how many 64 KB windows the parked helper
touches: a fresh sequence of the same functions can cost 0.3 MB (bench/README.md), so a change
that adds or removes a few start-up functions keeps the rest in place.
"""

import argparse, os, re, shutil, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "startup-order.txt"))
    parser.add_argument("--keep-sequence", action="store_true",
                        help="keep the sequence of the file --out names; drop what no longer runs, append what is new")
    args = parser.parse_args()
    for command in (["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "invoker"],
                    ["swift", "build", "-c", "release", "--product", "bench-target"]):
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    bin_dir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="invoker-startup-order-")
    # valgrind cannot read the binary's DWARF 5: it runs a copy without debug sections (the symbol
    # table, which is all the profile needs, stays).
    invoker = os.path.join(work, "invoker")
    subprocess.run(["objcopy", "--strip-debug", os.path.join(bin_dir, "invoker"), invoker], check=True)
    profile = os.path.join(work, "callgrind.out")
    wrapper = os.path.join(work, "helper")
    with open(wrapper, "w") as out:
        out.write("#!/bin/sh\nexec valgrind --quiet --tool=callgrind --demangle=no --dump-instr=no "
                  f"--dump-before=raise --callgrind-out-file={profile}.%p {invoker} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    # Live mode: the target waits for a line on stdin once the helper has parked, then kills it.
    subprocess.run([os.path.join(bin_dir, "bench-target"), "--helper", wrapper, "--threads", "1", "--depth", "1",
                    "--mode", "live"], input="done\n", text=True, check=True, stdout=subprocess.DEVNULL, timeout=300)
    dumps = [os.path.join(work, name) for name in os.listdir(work) if name.startswith("callgrind.out")]
    if not dumps:
        raise RuntimeError(f"callgrind wrote no profile in {work}")
    # callgrind's name compression: "fn=(12) name" (or "cfn=") the first time, "fn=(12)" after; "ob=" likewise.
    # Every function that ran has a "fn=" block of its own cost, under the object it is in.
    objects, functions, order = {}, {}, []
    current_object = None
    for dump in sorted(dumps):
        for line in open(dump, errors="replace"):
            match = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if match:
                if match.group(3) is not None:
                    objects[match.group(2)] = match.group(3)
                if match.group(1) == "ob":
                    current_object = objects.get(match.group(2))
                continue
            match = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if match:
                if match.group(3) is not None:
                    functions[match.group(2)] = match.group(3)
                if match.group(1) != "fn":
                    continue
                name = functions.get(match.group(2))
                name = name and re.sub(r"'\d+$", "", name)  # "'2": callgrind's mark of a recursion cycle
                if name and current_object and os.path.realpath(current_object) == invoker and name not in order:
                    order.append(name)
    if not order:
        raise RuntimeError(f"no function of {invoker} in {dumps}")
    # A name that several local functions share (a partial-apply thunk or outlined copy that each
    # object file has its own copy of, e.g. `$sSqwxx`) is left out: lld would move every section
    # that defines one to the front, and in the packages and the Swift libraries a section is a
    # whole source file or library (_RegexParser's .text is 475 KB): 67 files for one thunk,
    # spreading the start-up path over 0.9 MB more of the parked helper's text.
    local_names = [line.split()[2] for line in subprocess.run(["nm", invoker], check=True, capture_output=True,
                                                               text=True).stdout.splitlines()
                   if len(line.split()) == 3 and line.split()[1] == "t"]
    seen, shared = set(), set()
    for name in local_names:
        (shared if name in seen else seen).add(name)
    # Unless every copy lies in a target of ours: these are compiled with a section per function,
    # so lld moves only the copies (an outlined copy the built-in tracers' files each have). A name
    # that a package's object file or one of the toolchain's static libraries also defines stays out.
    ours = {"Invoker", "TracerKit", "Tracers", "CInvokerShim", "CUnwindShim", "CDemangleShim", "CCurl"}
    others = [os.path.join(folder, name) for entry in os.listdir(bin_dir)
              if entry.endswith(".build") and entry[:-len(".build")] not in ours
              for folder, _, names in os.walk(os.path.join(bin_dir, entry)) for name in names if name.endswith(".o")]
    swift = os.path.realpath(shutil.which("swift"))
    static_libs = os.path.join(os.path.dirname(os.path.dirname(swift)), "lib", "swift_static", "linux")
    others += [os.path.join(static_libs, name) for name in os.listdir(static_libs) if name.endswith(".a")]
    elsewhere = set()
    for path in others:
        listing = subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True).stdout
        elsewhere.update(line.split()[2] for line in listing.splitlines() if len(line.split()) == 3)
    shared &= elsewhere
    order = [name for name in order if not name.startswith("0x") and name not in shared]
    # Data too: the Swift runtime's image registration (before main) reads every dynamic replacement
    # of the linked modules (Foundation's of FoundationEssentials' hooks): each module's table
    # (`l_unnamed_dynamic_replacements`) and each replaced entity's key (a mangled name ending in `Tx`).
    # They are sections of a few bytes each, scattered over .rodata with their object files: listed
    # here, lld puts them together at the start of .rodata, one 64 KB window instead of five.
    order += dynamic_replacements(invoker)
    if args.keep_sequence:
        running = set(order)
        committed = [line.strip() for line in open(args.out) if line.strip()]
        kept = [name for name in committed if name in running]
        print(f"kept {len(kept)} of the {len(committed)} committed names; "
              f"{len(committed) - len(kept)} no longer run, {len(order) - len(kept)} new", file=sys.stderr)
        order = kept + [name for name in order if name not in set(kept)]
    with open(args.out, "w") as out:
        out.write("".join(name + "\n" for name in order))
    shutil.rmtree(work)
    print(f"{len(order)} names written to {args.out} ({len(shared)} shared local names left out)", file=sys.stderr)


def dynamic_replacements(binary):
    """The data symbols the runtime reads when it registers the binary's dynamic replacements."""
    names = set()
    for line in subprocess.run(["nm", binary], check=True, capture_output=True, text=True).stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in "dDrR" and (fields[2] == "l_unnamed_dynamic_replacements"
                                                         or (fields[2].startswith("$s") and fields[2].endswith("Tx"))):
            names.add(fields[2])
    return sorted(names)


if __name__ == "__main__":
    main()
