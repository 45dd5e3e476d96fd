#!/usr/bin/env bash
# A crash loop under invoker: the ats-crasher fixture crashes N times (default 100) with the same
# fault, under a chain with an expensive external tracer (gdb, 'thread apply all bt full'), the
# default [store] settings (loop_reports = 3 in 3600 s, max_store_bytes 256 MiB). Prints the wall
# time of each crash (crash to the server's exit: the downtime, plus process start-up) for the
# full reports and the compact records, the bytes in the report directory, and the store's count.
#
#   bench/crash-loop.sh [N] [INVOKER] [ATS_CRASHER]
set -euo pipefail
n=${1:-100}
invoker=${2:-$(swift build -c release --show-bin-path)/invoker}
crasher=${3:-$(swift build --show-bin-path)/ats-crasher}
dir=$(mktemp -d /tmp/invoker-loop.XXXXXX)
conf=$dir.conf
cat > "$conf" <<CONF
[[tracer]]
use = "unwind"
[[tracer]]
use = "process"
[[tracer]]
name = "gdb"
exec = ["/usr/bin/gdb", "-batch", "-nx", "-p", "%p", "-ex", "thread apply all bt full"]
timeout = 30
CONF
chmod 600 "$conf"
times=()
for i in $(seq 1 "$n"); do
    start=$(date +%s%N)
    { "$crasher" --helper "$invoker" --payload 10.2 --threads 3 --mode segv -- --log-dir "$dir" --config "$conf"; } 2>/dev/null || true
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
done
# The last helper indexes after the server is gone: wait for it.
while pgrep -f -- "--log-dir $dir" >/dev/null; do sleep 0.1; done
full=$(printf '%s\n' "${times[@]:0:3}" | sort -n | paste -sd' ')
compact=$(printf '%s\n' "${times[@]:3}" | sort -n)
median=$(echo "$compact" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
max=$(echo "$compact" | tail -1)
echo "crashes: $n"
echo "full reports (ms, crash to exit): $full"
echo "compact records (ms): median $median, max $max"
echo "report directory: $(du -sb "$dir" | cut -f1) bytes ($(ls "$dir" | grep -c '\.log$') logs)"
"$invoker" groups --log-dir "$dir"
"$invoker" list --log-dir "$dir" | awk 'NR > 1 {print $NF}' | sort | uniq -c
rm -rf "$dir" "$conf"
