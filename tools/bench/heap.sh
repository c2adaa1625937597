#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: what `bpfprof heap` costs a program per malloc+free pair,
# side by side in one run.  The workload (heap_sites loop) times PAIRS
# malloc(32)/free pairs itself; each configuration launches it under the
# profiler, so probes are in place before its first call:
#   none           no profiler
#   bpftrace       empty bpftrace uprobes on malloc and free, at their entries
#                  (a peer: free's first instruction is single-stepped)
#   floor-entry    bpfprof probes that only count calls, at the entries
#   floor          the same where bpfprof places them (free at +3, a jcc the
#                  kernel emulates): one cheap trap per malloc and per free,
#                  the least any uprobe profiler can cost
#   heap           bpfprof heap, default rate (512 KiB)
#   heap-entry     the same with every probe at its function's entry
#   heap-uretprobe the same placed probes with a return probe on every
#                  allocating call (kernels without session uprobes)
#   heap-rate1     bpfprof heap --rate 1 (every allocation, stacks and all)
#   growth         bpfprof heap --mode growth (no uprobes)
#   sampler        bpfprof heap -p --sampler inject, default rate: the
#                  in-process sampler (an unsampled pair traps nowhere)
#   sampler-rate1  the same at --rate 1 (every allocation traps once)
#   sampler-orphan the sampler left running after bpfprof was SIGKILLed
# (the sampler configurations attach to the waiting workload with -p, then
# let it start: the loop is timed from then on).
# Rounds are interleaved so drift hits all alike; the table shows medians.
# Not a test: nothing here passes or fails.
set -eu
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-5}
PAIRS=${PAIRS:-600000}             # under placed uprobes: ~1-3 s a run
ENTRY_PAIRS=${ENTRY_PAIRS:-200000} # under probes at the entries (bpftrace too): ~3 s
FAST_PAIRS=${FAST_PAIRS:-100000000} # without uprobes (none, growth): ~1 s, long enough to time
work=build/workloads/heap_sites
libc=$(ldd "$work" | awk '$1 ~ /^libc\.so/ { print $3 }')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
configs=(${CONFIGS:-none bpftrace floor-entry floor heap heap-entry heap-uretprobe heap-rate1 growth sampler sampler-rate1 sampler-orphan})
STOPS=$tmp/stops
: >"$STOPS"
declare -A ns

run() {
	local config=$1 out=$tmp/out
	case $config in
	none) "$work" loop "$FAST_PAIRS" >"$out" 2>/dev/null ;;
	bpftrace)
		command -v bpftrace >/dev/null || { echo "ns_per_pair -" >"$out"; return; }
		bpftrace -e "uprobe:$libc:malloc {} uprobe:$libc:free {}" -c "$work loop $ENTRY_PAIRS" \
			>"$out" 2>/dev/null || true
		;;
	floor-entry) build/bpfprof heap --count-only --at-entry -q -o "$tmp/p.pb.gz" -- "$work" loop "$ENTRY_PAIRS" >"$out" 2>/dev/null ;;
	floor) build/bpfprof heap --count-only -q -o "$tmp/p.pb.gz" -- "$work" loop "$PAIRS" >"$out" 2>/dev/null ;;
	heap) build/bpfprof heap -q -o "$tmp/p.pb.gz" -- "$work" loop "$PAIRS" >"$out" 2>/dev/null ;;
	heap-entry) build/bpfprof heap --at-entry -q -o "$tmp/p.pb.gz" -- "$work" loop "$ENTRY_PAIRS" >"$out" 2>/dev/null ;;
	heap-uretprobe) build/bpfprof heap --no-session -q -o "$tmp/p.pb.gz" -- "$work" loop "$PAIRS" >"$out" 2>/dev/null ;;
	heap-rate1) build/bpfprof heap --rate 1 -q -o "$tmp/p.pb.gz" -- "$work" loop "$PAIRS" >"$out" 2>/dev/null ;;
	growth) build/bpfprof heap --mode growth -q -o "$tmp/p.pb.gz" -- "$work" loop "$FAST_PAIRS" >"$out" 2>/dev/null || true ;;
	sampler) sampled "$out" "$FAST_PAIRS" ;;
	sampler-rate1) sampled "$out" "$PAIRS" "--rate 1" ;;
	sampler-orphan) sampled "$out" "$FAST_PAIRS" --kill ;;
	esac
	ns[$config]+="$(awk '$1 == "ns_per_pair" { print $2 }' "$out") "
}

# sampled OUT PAIRS [--rate 1 | --kill]: the waiting workload, bpfprof
# injected into it, then the loop; --kill: bpfprof SIGKILLed before the loop.
sampled() {
	local out=$1 pairs=$2 opt=${3:-} wpid bp
	rm -f "$tmp/go" "$tmp/s.err"
	HEAP_SITES_GO=$tmp/go "$work" loop "$pairs" >"$out" 2>/dev/null &
	wpid=$!
	build/bpfprof heap -v -p "$wpid" --sampler inject ${opt/--kill/} -d 600 -o "$tmp/p.pb.gz" \
		>/dev/null 2>"$tmp/s.err" &
	bp=$!
	for _ in $(seq 600); do
		grep -qE 'samples in-process|cannot' "$tmp/s.err" && break
		sleep 0.05
	done
	sed -n 's/.*threads stopped for \([0-9.]*\) ms.*/\1/p' "$tmp/s.err" >>"$STOPS"
	if [ "$opt" = --kill ]; then
		kill -9 "$bp"
		wait "$bp" 2>/dev/null || true
	fi
	touch "$tmp/go"
	wait "$wpid" || true
	kill -INT "$bp" 2>/dev/null || true
	wait "$bp" 2>/dev/null || true
}

for _ in $(seq "$ROUNDS"); do
	for c in "${configs[@]}"; do
		run "$c"
	done
done

base=$(echo "${ns[none]}" | median)
floor=$(echo "${ns[floor]:-}" | median)
printf "malloc(32)+free pairs per run: %d under placed probes, %d under probes at entries, %d without; median of %d runs\n" \
	"$PAIRS" "$ENTRY_PAIRS" "$FAST_PAIRS" "$ROUNDS"
printf "%-12s %12s %10s %12s\n" config ns/pair "x none" "vs floor"
for c in "${configs[@]}"; do
	m=$(echo "${ns[$c]}" | median)
	if [ -z "$m" ]; then
		printf "%-12s %12s %10s %12s\n" "$c" - - -
		continue
	fi
	awk -v c="$c" -v m="$m" -v b="$base" -v f="$floor" 'BEGIN {
		if (c == "none" || c == "growth" || c == "sampler" || c == "sampler-orphan")
			printf "%-12s %12.1f %10.2f %12s\n", c, m, m / b, "-"
		else
			printf "%-12s %12.1f %10.1f %+11.1f%%\n", c, m, m / b, (m - f) / f * 100 }'
done
printf "the target stopped for the injection: median %s ms, at most %s ms (%d injections)\n" \
	"$(median <"$STOPS")" "$(sort -g "$STOPS" | tail -n1)" "$(wc -l <"$STOPS")"

# The sampler's free once sampled blocks are live (tools/bench/sampler_free.c,
# the sampler's code linked in directly): a free+malloc pair over a ring of
# 64k blocks, the free bare or through the sampler, which must look the
# block up among the sampled ones.
cc -O2 -fPIC -fno-plt -fcf-protection=none -fvisibility=hidden -mgeneral-regs-only \
	-c user/heap/sampler/sampler.c -o "$tmp/sampler.o"
cc -O2 -Iuser/heap/sampler tools/bench/sampler_free.c "$tmp/sampler.o" -o "$tmp/sampler_free" -lm
declare -A fr
for _ in $(seq "$ROUNDS"); do
	for m in bare sampler; do
		fr[$m]+="$("$tmp/sampler_free" "$m" 400000 20000000 65536 | awk '{ print $2 }') "
	done
done
printf "free+malloc(32) over 64k blocks, about 200 sampled blocks live: %s ns bare, %s ns through the sampler's free (medians of %d)\n" \
	"$(echo "${fr[bare]}" | median)" "$(echo "${fr[sampler]}" | median)" "$ROUNDS"

# redis-benchmark against Debian's redis-server: tools/bench/redis.sh (make bench runs it too).
