#!/usr/bin/env python3
"""invoker's benchmark: our default chain side by side with eu-stack and gdb (and Debian's
traffic_crashlog when installed), on the same target, runs alternating, medians and ratios.

    bench/run.py [--threads 16,64,256] [--depth 32] [--runs 7] [--out bench/RESULTS.md]

Measured (see bench/target/main.c for how the target measures):
  crash downtime      SIGCONT sent by the crashing target until its helper has exited
  start-up to parked  fork of the helper until it has stopped itself (the server waits for this)
  parked RSS          the helper's resident memory while parked
  peak RSS            the helper's peak resident memory (wait4 rusage)
  live freeze         longest time a ticking worker did not run during a live capture, and the same
                      with no tool at all over as long a window (the scheduler's floor)
  live wall           the capture tool's wall time
  variables downtime  crash downtime with the variables tracer (the crashing thread's frames, then
                      every thread's) against gdb's `bt full` and `thread apply all bt full`
Peers run as crash helpers through bench/peer-helper, which parks like one and runs the tool on
its parent once woken, so every tool is timed by the same clock in the same place.
"""
import argparse, os, platform, re, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build():
    for command in (["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "invoker"],
                    ["swift", "build", "-c", "release", "--product", "bench-target"]):
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def parse(text):
    values = {}
    for word in text.split():
        if "=" in word:
            key, value = word.split("=", 1)
            try:
                values[key] = int(value)
            except ValueError:
                pass
    return values


def crash_run(bin_dir, helper_argv, threads, depth, log_dir):
    helper, extra = helper_argv
    argv = [os.path.join(bin_dir, "bench-target"), "--helper", helper, "--threads", str(threads),
            "--depth", str(depth), "--mode", "crash", "--"] + extra
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    values = parse(result.stdout)
    if "downtime_us" not in values:
        raise RuntimeError(f"no result from {argv}: {result.stdout} {result.stderr}")
    return values


def live_run(bin_dir, tool_argv, threads, depth):
    read_end, write_end = os.pipe()
    target = subprocess.Popen([os.path.join(bin_dir, "bench-target"), "--threads", str(threads), "--depth", str(depth),
                               "--mode", "live", "--ready-fd", str(write_end)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        pid = int(ready.readline().split()[1])
    argv = [word.replace("%p", str(pid)) for word in tool_argv]
    start = time.monotonic()
    tool = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=600)
    wall_us = int((time.monotonic() - start) * 1e6)
    out, _ = target.communicate("done\n", timeout=60)
    values = parse(out)
    values["wall_us"] = wall_us
    # invoker's own clock: its Capture Timing says how long its longest batch of threads was held.
    held = re.search(rb"^  freeze: ([0-9.]+) s", tool.stdout, re.MULTILINE)
    if held:
        values["held_us"] = int(float(held.group(1)) * 1e6)
    return values


def summary(samples):
    return statistics.median(samples), min(samples), max(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="16,64,256")
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    args = parser.parse_args()
    bin_dir = build()
    log_dir = tempfile.mkdtemp(prefix="invoker-bench-")
    peer = os.path.join(ROOT, "bench", "peer-helper")
    helpers = {
        "invoker": (os.path.join(bin_dir, "invoker"), ["--log-dir", log_dir]),
        "eu-stack": (peer, ["/usr/bin/eu-stack", "-p", "%p"]),
        "gdb": (peer, ["/usr/bin/gdb", "-batch", "-nx", "-p", "%p", "-ex", "thread apply all bt"]),
    }
    live_tools = {
        "invoker": [os.path.join(bin_dir, "invoker"), "snapshot", "--pid", "%p", "--stdout"],
        # What an operator runs: the text log and the JSON report written into a directory.
        "invoker, files": [os.path.join(bin_dir, "invoker"), "snapshot", "--pid", "%p", "--output",
                           tempfile.mkdtemp(prefix="invoker-bench-snapshots-")],
        "eu-stack": ["/usr/bin/eu-stack", "-p", "%p"],
        "gdb": ["/usr/bin/gdb", "-batch", "-nx", "-p", "%p", "-ex", "thread apply all bt"],
    }
    # The variables tracer against gdb's bt full: every frame of the stacks (bench-target's are
    # 32 deep), and time enough that no budget cuts the capture short.
    variables_dir = tempfile.mkdtemp(prefix="invoker-bench-variables-")
    configs = {}
    cache_dir = os.path.join(variables_dir, "debug-info-cache")
    for which, threads, cache in (("crashing", "crashing", None), ("all", "all", None), ("cached", "crashing", cache_dir)):
        configs[which] = os.path.join(variables_dir, f"{which}.conf")
        with open(configs[which], "w") as out:
            # The same crash again and again is a crash loop to the crash store, which would skip
            # the variables tracer after the third: the store is off for these runs.
            out.write((f'debug_info_cache = "{cache}"\n' if cache else 'debug_info_cache = ""\n')
                      + f'[store]\nenabled = false\n\n[[tracer]]\nuse = "unwind"\n[[tracer]]\nuse = "variables"\nthreads = "{threads}"\n'
                      f'max_frames = 64\ntimeout = 10\n')
    variables_helpers = {
        "invoker variables": (os.path.join(bin_dir, "invoker"), ["--log-dir", variables_dir, "--config", configs["crashing"]]),
        "gdb bt full": (peer, ["/usr/bin/gdb", "-batch", "-nx", "-p", "%p", "-ex", "bt full"]),
        "invoker variables, debug-info cache": (os.path.join(bin_dir, "invoker"),
                                                ["--log-dir", variables_dir, "--config", configs["cached"]]),
        "invoker variables, all threads": (os.path.join(bin_dir, "invoker"),
                                           ["--log-dir", variables_dir, "--config", configs["all"]]),
        "gdb thread apply all bt full": (peer, ["/usr/bin/gdb", "-batch", "-nx", "-p", "%p", "-ex", "thread apply all bt full"]),
    }
    thread_counts = [int(n) for n in args.threads.split(",")]
    helpers_and_variables = {**helpers, **variables_helpers}
    crash = {(tool, n): [] for tool in helpers_and_variables for n in thread_counts}
    # One crash, not timed, fills the debug-info cache (after its report, outside the downtime):
    # the timed runs are every crash after the first on a machine.
    crash_run(bin_dir, variables_helpers["invoker variables, debug-info cache"], thread_counts[0], args.depth, log_dir)
    def cached_files():
        found = [name for _, _, names in os.walk(cache_dir) for name in names]
        return [] if any(name.endswith(".tmp") for name in found) else [name for name in found if name.endswith(".debug")]
    deadline = time.monotonic() + 60
    while not cached_files() and time.monotonic() < deadline:  # the report's child stores them after the release
        time.sleep(0.1)
    if not cached_files():
        raise RuntimeError(f"the warm-up crash stored nothing in the debug-info cache {cache_dir}")
    live = {(tool, n): [] for tool in list(live_tools) + ["no tool"] for n in thread_counts}
    for n in thread_counts:
        for run in range(args.runs):
            for tool, helper in helpers_and_variables.items():  # alternating: one run of each tool in turn
                crash[(tool, n)].append(crash_run(bin_dir, helper, n, args.depth, log_dir))
            for tool, argv in live_tools.items():
                live[(tool, n)].append(live_run(bin_dir, argv, n, args.depth))
                if tool == "invoker":
                    # The floor: the same target and window with no tool at all (a sleep as long as
                    # invoker's capture just took). A worker's longest stall is never below it.
                    idle_seconds = live[(tool, n)][-1]["wall_us"] / 1e6
                    live[("no tool", n)].append(live_run(bin_dir, ["/bin/sleep", f"{idle_seconds:.3f}"], n, args.depth))
            print(f"threads={n} run {run + 1}/{args.runs} done", file=sys.stderr)

    def ms(us):
        return f"{us / 1000:.1f}"

    lines = []
    lines.append("# Benchmark results\n")
    lines.append(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}; "
                 f"{time.strftime('%Y-%m-%d')}. Command: `bench/run.py --threads {args.threads} --depth {args.depth} "
                 f"--runs {args.runs}` (release build, Swift stdlib static). Target: bench-target, N threads "
                 f"{args.depth} frames deep, ATS 9 payload. Medians of {args.runs} alternating runs, [min–max], in ms.\n")
    lines.append("## Crash downtime (SIGCONT to helper exit)\n")
    lines.append("| threads | " + " | ".join(helpers) + " | invoker / eu-stack | invoker / gdb |")
    lines.append("|---|" + "---|" * (len(helpers) + 2))
    for n in thread_counts:
        cells, medians = [], {}
        for tool in helpers:
            med, lo, hi = summary([s["downtime_us"] for s in crash[(tool, n)]])
            medians[tool] = med
            cells.append(f"{ms(med)} [{ms(lo)}–{ms(hi)}]")
        lines.append(f"| {n} | " + " | ".join(cells) +
                     f" | {medians['invoker'] / medians['eu-stack']:.2f} | {medians['invoker'] / medians['gdb']:.3f} |")
    logs = [name for name in os.listdir(variables_dir) if name.endswith(".log")]
    with_values = [name for name in logs if "(parameter, " in open(os.path.join(variables_dir, name), errors="replace").read()]
    if len(with_values) != len(logs) or not logs:
        raise RuntimeError(f"variables runs without variables in their logs: {sorted(set(logs) - set(with_values))}")
    lines.append("\n## Crash downtime with variables (SIGCONT to helper exit)\n")
    lines.append("The variables tracer reads parameters and locals in the stopped window (values live in the server), "
                 "so its time is downtime; gdb prints the same `info args`/`info locals` per frame.\n")
    lines.append("| threads | invoker variables | gdb bt full | ratio | invoker variables, all threads | "
                 "gdb thread apply all bt full | ratio |")
    lines.append("|---|---|---|---|---|---|---|")
    for n in thread_counts:
        cells = []
        for ours, theirs in (("invoker variables", "gdb bt full"), ("invoker variables, all threads", "gdb thread apply all bt full")):
            mine = summary([s["downtime_us"] for s in crash[(ours, n)]])
            peer_time = summary([s["downtime_us"] for s in crash[(theirs, n)]])
            cells.append(f"{ms(mine[0])} [{ms(mine[1])}–{ms(mine[2])}] | {ms(peer_time[0])} [{ms(peer_time[1])}–{ms(peer_time[2])}] "
                         f"| {mine[0] / peer_time[0]:.3f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines.append("\n## Crash downtime with variables and a debug-info cache (SIGCONT to helper exit)\n")
    lines.append("The crashing thread's variables as above, with `debug_info_cache` set and filled by an earlier crash: "
                 "the C library's separate debug file is opened uncompressed instead of inflated in the stopped window. "
                 "Same runs as the tables above.\n")
    lines.append("| threads | invoker variables, cache | invoker variables, no cache | eu-stack | gdb bt full "
                 "| cache / eu-stack | cache / gdb bt full | no cache / eu-stack |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for n in thread_counts:
        cached, uncached, eu, gdb = (summary([s["downtime_us"] for s in crash[(tool, n)]])
                                     for tool in ("invoker variables, debug-info cache", "invoker variables", "eu-stack", "gdb bt full"))
        lines.append(f"| {n} | " + " | ".join(f"{ms(m)} [{ms(lo)}–{ms(hi)}]" for m, lo, hi in (cached, uncached, eu, gdb))
                     + f" | {cached[0] / eu[0]:.2f} | {cached[0] / gdb[0]:.3f} | {uncached[0] / eu[0]:.2f} |")
    lines.append("\n## Live capture: freeze (longest stall of a worker) and wall time\n")
    lines.append("A worker ticks every millisecond; its stall is the longest gap between two ticks beyond that "
                 "millisecond, the worst of all workers over the window from the target being ready until the tool "
                 "has exited. \"no tool\" is the same window with nothing attached (a sleep as long as invoker's "
                 "capture of that run): the scheduler's own floor for N workers on this machine. \"invoker\" prints "
                 "its text log on standard output (--stdout), as the peers print theirs; \"invoker, files\" writes the "
                 "text log and the JSON report into a directory, as an operator's `invoker snapshot --pid P` does. "
                 "Both use the debug-info cache (on by default), filled by the first capture. \"invoker's longest hold\" "
                 "is invoker's own clock (its report's `freeze` timing): the longest time one batch of its threads was "
                 "held stopped, which is what a capture adds to a worker's stall beyond the scheduler's floor.\n")
    lines.append("| threads | no tool freeze | invoker freeze | invoker's longest hold | "
                 + " | ".join(f"{t} wall" if t == "invoker" else f"{t} freeze | {t} wall" for t in live_tools)
                 + " | invoker wall / eu-stack |")
    lines.append("|---|---|---|" + "---|---|" * len(live_tools) + "---|")
    for n in thread_counts:
        floor = summary([s["freeze_us"] for s in live[("no tool", n)]])
        cells = [f"{ms(floor[0])} [{ms(floor[1])}–{ms(floor[2])}]"]
        walls = {}
        held = [s["held_us"] for s in live[("invoker", n)] if "held_us" in s]
        for tool in live_tools:
            freeze = summary([s["freeze_us"] for s in live[(tool, n)]])
            wall = summary([s["wall_us"] for s in live[(tool, n)]])
            walls[tool] = wall[0]
            if tool == "invoker":
                hold = f"{ms(summary(held)[0])} [{ms(summary(held)[1])}–{ms(summary(held)[2])}]" if held else "–"
                cells.append(f"{ms(freeze[0])} [{ms(freeze[1])}–{ms(freeze[2])}] | {hold} | {ms(wall[0])}")
            else:
                cells.append(f"{ms(freeze[0])} [{ms(freeze[1])}–{ms(freeze[2])}] | {ms(wall[0])}")
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {walls['invoker'] / walls['eu-stack']:.2f} "
                     f"(files: {walls['invoker, files'] / walls['eu-stack']:.2f}) |")
    lines.append("\n## The helper at rest and at peak\n")
    lines.append("| helper | start-up to parked (ms) | parked RSS (MB) | peak RSS at N=" + str(thread_counts[-1]) + " (MB) |")
    lines.append("|---|---|---|---|")
    for tool in helpers:
        samples = [s for n in thread_counts for s in crash[(tool, n)]]
        startup = summary([s["startup_us"] for s in samples])
        rss = statistics.median([s["parked_rss_kb"] for s in samples]) / 1024
        peak = statistics.median([s["helper_maxrss_kb"] for s in crash[(tool, thread_counts[-1])]]) / 1024
        lines.append(f"| {tool} | {ms(startup[0])} [{ms(startup[1])}–{ms(startup[2])}] | {rss:.1f} | {peak:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
