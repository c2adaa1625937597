#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# JIT names: what reading a growing perf map costs during a capture.  A
# busy Node.js process (--perf-basic-prof) creates and compiles new
# functions all the time, so its map grows by thousands of lines; bpfprof
# reads what was appended at each refresh (every second while young, then
# every 10 s) and on a miss.  Reported: lines added during the capture,
# reads, bytes read, time spent reading, and that time next to bpfprof's
# own CPU time.  Not a test.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
command -v node >/dev/null || { echo "bench: no node (make deps)"; exit 0; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -f "/tmp/perf-$pid.map"; rm -rf "$tmp"' EXIT
DURATION=${DURATION:-10}
js=$PWD/tests/workloads/jit_churn.js

printf "%-6s %8s %8s %6s %9s %8s %12s %11s\n" "loop" "lines" "lines/s" "reads" "KiB read" "read ms" "bpfprof CPU" "share"
for loop in 2000 200; do
	(cd "$tmp" && exec node --perf-basic-prof "$js" $((DURATION + 5)) "$loop") >"$tmp/out" 2>&1 &
	for _ in $(seq 200); do grep -q '^ready' "$tmp/out" && break; sleep 0.05; done
	pid=$(awk '/^ready/ { print $2 }' "$tmp/out")
	sleep 1
	before=$(wc -l <"/tmp/perf-$pid.map")
	/usr/bin/time -f "%U %S" -o "$tmp/time" build/bpfprof cpu -v -p "$pid" -d "$DURATION" -F 99 \
		-o "$tmp/p.pb.gz" >/dev/null 2>"$tmp/err"
	after=$(wc -l <"/tmp/perf-$pid.map")
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "/tmp/perf-$pid.map"
	pid=
	line=$(grep 'JIT names:' "$tmp/err" || true)
	reads=$(echo "$line" | sed -n 's/.*; \([0-9]*\) reads.*/\1/p')
	kib=$(echo "$line" | sed -n 's/.*, \([0-9]*\) KiB of maps read.*/\1/p')
	ms=$(echo "$line" | sed -n 's/.* read in \([0-9.]*\) ms.*/\1/p')
	cpu=$(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { c = $1 + $2 } END { print c + 0 }' "$tmp/time")
	printf "%-6s %8d %8d %6s %9s %8s %10.2fs %10.2f%%\n" "$loop" $((after - before)) \
		$(((after - before) / DURATION)) "${reads:--}" "${kib:--}" "${ms:--}" "$cpu" \
		"$(awk -v ms="${ms:-0}" -v c="$cpu" 'BEGIN { print (c > 0 ? ms / 10 / c : 0) }')"
done
