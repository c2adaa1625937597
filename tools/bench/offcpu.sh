#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: overhead of `bpfprof offcpu` on a pipe ping-pong (two threads,
# every pass a context switch), side by side with no profiler, in one run.
# Configurations are interleaved round by round so drift hits all alike; the
# table shows medians.  Not a test: nothing here passes or fails.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-5}
WORK=${WORK:-300000} # ping-pong rounds: 1-2 s unprofiled here
tmp=$(mktemp -d)
idle=
trap 'rm -rf "$tmp"; [ -z "$idle" ] || kill "$idle" 2>/dev/null; sysctl -q kernel.bpf_stats_enabled=$old_stats' EXIT
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1

work=build/workloads/pingpong
declare -A elapsed rate bpfns

# switch_progs: ids of the sched_switch programs now loaded, one a line.
switch_progs() {
	bpftool prog show -j 2>/dev/null | tr '{' '\n' |
		sed -n 's/^"id":\([0-9]*\),"type":"[a-z_]*","name":"switch_\(btf\|raw\)".*/\1/p'
}

# prog_ns IDS...: run time per run (ns) of these programs so far.
prog_ns() {
	local id
	for id in "$@"; do
		bpftool prog show id "$id" -j 2>/dev/null
		echo
	done | sed -n 's/.*"run_time_ns":\([0-9]*\),"run_cnt":\([0-9]*\).*/\1 \2/p' |
		awk '{ t += $1; c += $2 } END { if (c) printf "%.0f\n", t / c }'
}

# run NAME [OFFCPU-ARGS...]: one round of the workload: unprofiled (none),
# launched by bpfprof offcpu (the target: every switch is one of its own), or
# with offcpu profiling an idle process (other: the cost of filtering out).
# One second in, the BPF run time per switch is read, in every configuration
# alike (bpftool's own cost then hits all of them).
run() {
	local name=$1 before pid ids ns prof=
	shift
	before=$(switch_progs | tr '\n' ' ')
	case $name in
	none)
		"$work" "$WORK" >"$tmp/w.out" &
		pid=$!
		;;
	other)
		build/bpfprof offcpu -q -p "$idle" -o "$tmp/o.pb.gz" "$@" 2>>"$tmp/log" &
		prof=$!
		sleep 2 # attached by then
		"$work" "$WORK" >"$tmp/w.out" &
		pid=$!
		;;
	*)
		build/bpfprof offcpu -q -o "$tmp/o.pb.gz" "$@" -- "$work" "$WORK" >"$tmp/w.out" \
			2>>"$tmp/log" &
		pid=$!
		;;
	esac
	sleep 1
	# Programs loaded since the round began: ours (other users' may be too).
	ids=$(switch_progs | grep -vxF -f <(echo "$before" | tr ' ' '\n' | grep .) || true)
	if [ -n "$ids" ]; then
		ns=$(prog_ns $ids)
		[ "$name" = none ] || echo "$ns" >>"$tmp/$name.bpf"
	fi
	wait "$pid"
	if [ -n "$prof" ]; then
		kill -INT "$prof"
		wait "$prof" || true
	fi
	elapsed[$name]+="$(awk '{ print $2 }' "$tmp/w.out") "
	rate[$name]+="$(awk '{ print $4 }' "$tmp/w.out") "
}

median() {
	tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "" }'
}

sleep 3600 &
idle=$!
names=(none other offcpu-fp offcpu)
for r in $(seq "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	run none
	run other
	run offcpu-fp --unwind fp
	run offcpu
done

declare -A what=(
	[none]="no profiler"
	[other]="offcpu -p (an idle process): filtering only"
	[offcpu-fp]="offcpu --unwind fp (target)"
	[offcpu]="offcpu (target, DWARF unwinding)"
)
base=$(echo "${elapsed[none]}" | median)
printf '\n| configuration | workload time (median of %d) | slowdown | switches/s | BPF ns/switch |\n' "$ROUNDS"
printf '|---|---|---|---|---|\n'
for n in "${names[@]}"; do
	t=$(echo "${elapsed[$n]}" | median)
	s=$(echo "${rate[$n]}" | median)
	b=$([ -f "$tmp/$n.bpf" ] && median <"$tmp/$n.bpf" || true)
	printf '| %s | %.3f s | %+.1f%% | %.0fk | %s |\n' "${what[$n]}" "$t" \
		"$(awk -v t="$t" -v b="$base" 'BEGIN { print (t / b - 1) * 100 }')" \
		"$(awk -v s="$s" 'BEGIN { print s / 1000 }')" "${b:--}"
done
echo
echo "workload: build/workloads/pingpong $WORK (two threads, two pipes) on $(nproc) CPUs; rounds interleaved;"
echo "BPF ns/switch: run_time_ns / run_cnt of the sched_switch program (kernel.bpf_stats_enabled), every switch on the machine"
