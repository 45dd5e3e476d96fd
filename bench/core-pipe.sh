#!/bin/sh
# core-pipe.sh: memory and temporary disk of `invoker core` as a kernel.core_pattern pipe, on a
# large core. The core-crasher fixture maps and writes MEGABYTES of memory, starts a witness
# (a process sharing its memory, which the core dump does not kill: it stands in for /proc/%P
# while the kernel waits on the pipe) and dies of SIGSEGV; the kernel writes the core into a
# temporary directory (kernel.core_pattern must be a plain file name; it is never changed here).
# The core is then piped to invoker as the kernel would, three ways:
#   live      /proc/%P readable: the built-in tracers read the process, the rest is drained
#   keep      the same with keep_core = true (gzip copy beside the report)
#   gone      %P names no process: the stacks come from a sparse copy of the core's stack windows
# Prints each run's max RSS and time, and the report's notes (bytes read, kept, compressed).
#
# Usage: bench/core-pipe.sh [MEGABYTES]   (default 1024; needs a built package: swift build)
set -eu
megabytes=${1:-1024}
build=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/.build/debug}
work=$(mktemp -d /tmp/invoker-core-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir live keep gone
( ulimit -c unlimited; SWIFT_BACKTRACE=enable=no exec "$build/core-crasher" --witness --touch "$megabytes" > witness.txt ) &
crashed=$!
wait "$crashed" || true
witness=$(cat witness.txt)
core=$(ls | grep '^core' | head -n 1)
echo "core: $(stat -c %s "$core") bytes"
printf '[[tracer]]\nuse = "unwind"\n[[tracer]]\nuse = "variables"\n[[tracer]]\nuse = "process"\n[[tracer]]\nuse = "sysstats"\n' > live.conf
printf 'keep_core = true\nkeep_core_limit = 2147483648\n' > keep.conf
: > gone.conf
run() { # name pid config
    printf '%s: ' "$1"
    cat "$core" | /usr/bin/time -f "max RSS %M KiB, %e s" "$build/invoker" core --config "$3" --log-dir "$1" "$2" "$2" 11 1700000000
    grep -h -o '[0-9]* bytes of [a-z ()]*core[^"]*' "$1"/*.json | sed 's/^/    /'
}
run live "$witness" live.conf
run keep "$witness" keep.conf
run gone "$crashed" gone.conf
kill -9 "$witness"
