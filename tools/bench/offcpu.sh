#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: overhead of `bpfprof offcpu` on a pipe ping-pong (two threads
# pinned to one CPU, every pass a context switch), side by side with no
# profiler, in one run: at full speed (~400k switches/s here) and with some
# work per pass (~100k switches/s, the issue's rate).  Configurations are
# interleaved round by round so drift hits all alike, and each profiled run
# comes right after an unprofiled one it is compared with: the tables show
# the median of those ratios and their spread.  Not a test: nothing here
# passes or fails.
#
# "floor" is the hook alone: `build/bench/floor switch` attaches a program
# that returns at once to sched_switch, the price any program there pays;
# bpfprof's own cost is what it adds above that.
#
# The workload reports its wall time and its CPU time: the profiler's work
# in the switches is charged to the workload's CPU time, other processes'
# time is not.  Other users' tracing programs (syscall tracepoints slow every
# syscall) are waited out before each run, for QUIET seconds at most.
set -eu
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-9}
PASSES=${PASSES:-200000}	 # full speed: about 1 s unprofiled here
SLOW_PASSES=${SLOW_PASSES:-100000} # with work: about 2 s unprofiled here
SLOW_SPIN=${SLOW_SPIN:-6500}	 # ns of work per pass: ~100k switches/s here
CPU=${CPU:-0}			 # the CPU both threads are pinned to
QUIET=${QUIET:-60}		 # seconds to wait for other users' tracing programs to go
SPEEDS=${SPEEDS:-fast slow}	 # which of the two workloads
CONFIGS=${CONFIGS:-floor other default exact exact-user} # which configurations, besides none
tmp=$(mktemp -d)
idle=
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'rm -rf "$tmp"; [ -z "$idle" ] || kill "$idle" 2>/dev/null; sysctl -q kernel.bpf_stats_enabled=$old_stats' EXIT

work=build/workloads/pingpong
floor=build/bench/floor
[ -x "$floor" ] || make -s "$floor"
declare -A elapsed cpu rate
busy=0
runs=0

# switch_progs: ids of the sched_switch programs now loaded, one a line.
switch_progs() {
	bpftool prog show -j 2>/dev/null | tr '{' '\n' |
		sed -n 's/^"id":\([0-9]*\),"type":"[a-z_]*","name":"switch_\(btf\|raw\)".*/\1/p'
}

# foreign_progs: tracing programs loaded now (other users' measurements disturb ours).
foreign_progs() {
	bpftool prog show 2>/dev/null | grep -cE '^[0-9]+: (tracing|tracepoint|raw_tracepoint|kprobe|perf_event) ' || true
}

# start NAME PASSES WORK [OFFCPU-ARGS...]: starts one run of the workload, pinned,
# unprofiled (none), launched by bpfprof offcpu (every switch is a target's),
# or next to offcpu profiling an idle process (other: only the filtering).
# Sets pid to what to wait for and prof to a profiler to stop after.
start() {
	local name=$1 passes=$2 w=$3
	shift 3
	prof=
	case $name in
	none)
		taskset -c "$CPU" "$work" "$passes" "$w" >"$tmp/w.out" &
		pid=$!
		;;
	floor)
		"$floor" switch &
		prof=$!
		sleep 0.5 # attached within milliseconds
		taskset -c "$CPU" "$work" "$passes" "$w" >"$tmp/w.out" &
		pid=$!
		;;
	other)
		build/bpfprof offcpu -q -p "$idle" -o "$tmp/o.pb.gz" "$@" >/dev/null 2>>"$tmp/log" &
		prof=$!
		until [ -n "$(switch_progs)" ]; do sleep 0.1; done
		taskset -c "$CPU" "$work" "$passes" "$w" >"$tmp/w.out" &
		pid=$!
		;;
	*)
		build/bpfprof offcpu -q -o "$tmp/o.pb.gz" "$@" -- \
			taskset -c "$CPU" "$work" "$passes" "$w" >"$tmp/w.out" 2>>"$tmp/log" &
		pid=$!
		;;
	esac
}

finish() {
	wait "$pid"
	if [ -n "$prof" ]; then
		kill -INT "$prof"
		wait "$prof" || true
	fi
}

# quiet: waits up to QUIET seconds for no tracing program to be loaded.
quiet() {
	local i
	for i in $(seq $((QUIET * 2))); do
		[ "$(foreign_progs)" -eq 0 ] && return 0
		sleep 0.5
	done
	return 1
}

# run KEY NAME PASSES WORK [OFFCPU-ARGS...]: one timed run.
run() {
	local key=$1 name=$2
	shift 2
	quiet || busy=$((busy + 1))
	runs=$((runs + 1))
	start "$name" "$@"
	finish
	elapsed[$key]+="$(awk '{ print $2 }' "$tmp/w.out") "
	rate[$key]+="$(awk '{ print $4 }' "$tmp/w.out") "
	cpu[$key]+="$(awk '{ print $6 }' "$tmp/w.out") "
}

# pair PREFIX NAME PASSES WORK [OFFCPU-ARGS...]: an unprofiled run, then NAME's.
pair() {
	local p=$1 n=$2
	shift 2
	run "$p-base-$n" none "$1" "$2"
	elapsed[$p-none]+="$(awk '{ print $2 }' "$tmp/w.out") "
	rate[$p-none]+="$(awk '{ print $4 }' "$tmp/w.out") "
	cpu[$p-none]+="$(awk '{ print $6 }' "$tmp/w.out") "
	run "$p-$n" "$n" "$@"
}

# bpf_ns NAME [OFFCPU-ARGS...]: the program's run time per switch over the
# first 1.5 s of a long full-speed run, BPF statistics on.
bpf_ns() {
	local name=$1 ids
	shift
	start "$name" 1000000 0 "$@"
	sleep 1.5
	ids=$(switch_progs)
	[ -z "$ids" ] || bpf_stats_ids $ids | cut -d' ' -f1
	finish
}

stat() { # stat VALUES...: median [min..max]
	tr ' ' '\n' | grep -v '^$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR) printf "%s [%s..%s]", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

# ratio_list VALUES BASES: (value / base - 1) in %, round by round, one a line.
ratio_list() {
	paste <(echo "$1" | tr ' ' '\n' | grep -v '^$') <(echo "$2" | tr ' ' '\n' | grep -v '^$') |
		awk '{ printf "%.1f\n", ($1 / $2 - 1) * 100 }'
}
# spread < PERCENTS: median [min..max], signed.
spread() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%+.1f%% [%+.1f..%+.1f]", a[int((NR + 1) / 2)], a[1], a[NR] }'
}
# ratios VALUES BASES: ratio_list's median [min..max].
ratios() { ratio_list "$1" "$2" | spread; }

# shellcheck disable=SC2206
names=(none $CONFIGS)
declare -A what=(
	[none]="no profiler"
	[floor]="the hook alone: an empty program on sched_switch"
	[other]="offcpu -p (an idle process): filtering only"
	[default]="offcpu (sampled, --block-rate 1ms)"
	[exact]="offcpu --exact"
	[exact-user]="offcpu --exact --user-only"
)
declare -A args=(
	[none]=""
	[floor]=""
	[other]=""
	[default]=""
	[exact]="--exact"
	[exact-user]="--exact --user-only"
)

sleep 3600 &
idle=$!
for r in $(seq "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	for n in "${names[@]}"; do
		[ "$n" != none ] || continue
		# shellcheck disable=SC2086
		[[ " $SPEEDS " != *" fast "* ]] || pair fast "$n" "$PASSES" 0 ${args[$n]}
		# shellcheck disable=SC2086
		[[ " $SPEEDS " != *" slow "* ]] || pair slow "$n" "$SLOW_PASSES" "$SLOW_SPIN" ${args[$n]}
	done
done
echo "BPF run time per switch..." >&2
sysctl -q kernel.bpf_stats_enabled=1
declare -A ns
for n in "${names[@]}"; do
	# shellcheck disable=SC2086
	[ "$n" = none ] || [ "$n" = floor ] || ns[$n]=$(bpf_ns "$n" ${args[$n]})
done

table() { # table PREFIX TITLE
	local p=$1 n s above
	printf '\n%s\n\n' "$2"
	printf '| configuration | switches/s | workload time, median [min..max] | slowdown, median [min..max] of %d | CPU slowdown, median [min..max] | slowdown above the floor | BPF ns/switch |\n' "$ROUNDS"
	printf '|---|---|---|---|---|---|---|\n'
	for n in "${names[@]}"; do
		s=$(echo "${rate[$p-$n]}" | median)
		above=-
		if [ "$n" != none ] && [ "$n" != floor ] && [ -n "${elapsed[$p-floor]:-}" ]; then
			above=$(paste <(ratio_list "${elapsed[$p-$n]}" "${elapsed[$p-base-$n]}") \
				<(ratio_list "${elapsed[$p-floor]}" "${elapsed[$p-base-floor]}") |
				awk '{ printf "%.1f\n", $1 - $2 }' | spread)
		fi
		printf '| %s | %.0fk | %s s | %s | %s | %s | %s |\n' "${what[$n]}" \
			"$(awk -v s="$s" 'BEGIN { print s / 1000 }')" "$(echo "${elapsed[$p-$n]}" | stat)" \
			"$(ratios "${elapsed[$p-$n]}" "${elapsed[$p-base-$n]:-${elapsed[$p-none]}}")" \
			"$(ratios "${cpu[$p-$n]}" "${cpu[$p-base-$n]:-${cpu[$p-none]}}")" "$above" "${ns[$n]:--}"
	done
}
[[ " $SPEEDS " != *" fast "* ]] || table fast "Full speed: build/workloads/pingpong $PASSES, both threads on CPU $CPU"
[[ " $SPEEDS " != *" slow "* ]] || table slow "With work: build/workloads/pingpong $SLOW_PASSES $SLOW_SPIN, both threads on CPU $CPU"
echo
echo "$(nproc) CPUs; rounds interleaved; a slowdown compares each run with the unprofiled run just before it."
echo "BPF ns/switch: run_time_ns / run_cnt"
echo "of the sched_switch program over a separate full-speed run with kernel.bpf_stats_enabled=1"
echo "(every switch on the machine runs it); timed runs had it at $old_stats."
if [ "$busy" -gt 0 ]; then
	echo "Other users' tracing programs were still loaded at $busy of $runs timed runs: noisy."
fi
