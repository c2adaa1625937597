#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: overhead of `bpfprof mutex` on three lock loops, side by
# side with no profiler, in one run: an uncontended lock/unlock loop (one
# thread, never a futex call); a contended one (4 threads on one mutex, a
# little work inside and outside it: how often they collide is up to the
# scheduler, and changes when the futex path gets slower, so the try-lock
# failures are shown too); and a handoff (4 threads pass one mutex around,
# each holding it across a 50 us sleep: every acquisition waits, and the
# time per acquisition carries the profiler's cost of a wait and a wake).
# The workload waits 1.5 s before its timed loop so the profiler has
# attached and read its maps; the loop times itself.  Configurations are
# interleaved round by round so drift hits all alike; the tables show
# medians.  Not a test: nothing here passes or fails.
set -eu
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-5}
UNCONTENDED=${UNCONTENDED:-10000000} # lock/unlock pairs, one thread
CONTENDED=${CONTENDED:-1000000}      # lock/unlock pairs per thread, 4 threads
HANDOFF=${HANDOFF:-2000}             # lock/sleep/unlock per thread, 4 threads
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; sysctl -q kernel.bpf_stats_enabled=$old_stats' EXIT
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1

work=build/workloads/mutex_loop
declare -A elapsed contended

# our_progs: ids of the mutex profile's futex programs now loaded, one a line.
our_progs() {
	bpftool prog show -j 2>/dev/null | tr '{' '\n' |
		sed -n 's/^"id":\([0-9]*\),"type":"[a-z_]*","name":"\(futex_enter_tp\|syscall_exit_tp\|sys_enter_btf\|sys_exit_btf\|waking_btf\)".*/\1/p'
}

# run CONFIG LOAD: one round of workload LOAD (uncontended, contended, handoff)
# under CONFIG: none, waiter, holder or raw (waiter view on raw_syscalls).
# The BPF run time is read after the loop, while the workload sleeps.
run() {
	local config=$1 load=$2 args pid before ids by=waiter env=()
	case $load in
	uncontended) args=(1 "$UNCONTENDED" 0 0 1.5) ;;
	contended) args=(4 "$CONTENDED" 50 0 1.5) ;;
	handoff) args=(4 "$HANDOFF" 0 50 1.5) ;;
	esac
	: >"$tmp/w.out"
	if [ "$config" = none ]; then
		"$work" "${args[@]}" >"$tmp/w.out"
	else
		[ "$config" = raw ] && env=(BPFPROF_RAW_SYSCALLS=1)
		[ "$config" = holder ] && by=holder
		before=$(our_progs | tr '\n' ' ')
		env "${env[@]}" build/bpfprof mutex -q --by "$by" -o "$tmp/m.pb.gz" -- \
			"$work" "${args[@]}" >"$tmp/w.out" 2>>"$tmp/log" &
		pid=$!
		for _ in $(seq 1200); do
			[ -s "$tmp/w.out" ] && break
			sleep 0.05
		done
		ids=$(our_progs | grep -vxF -f <(echo "$before" | tr ' ' '\n' | grep .) || true)
		# shellcheck disable=SC2086 # one id a word
		[ -z "$ids" ] || bpf_stats_ids $ids >>"$tmp/$config.$load.bpf"
		wait "$pid"
	fi
	elapsed[$config.$load]+="$(awk '{ print $2 }' "$tmp/w.out") "
	contended[$config.$load]+="$(awk '{ print $4 }' "$tmp/w.out") "
}

configs=(none waiter holder raw)
for r in $(seq "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	for load in uncontended contended handoff; do
		for c in "${configs[@]}"; do
			run "$c" "$load"
		done
	done
done

declare -A what=(
	[none]="no profiler"
	[waiter]="mutex (waiter view)"
	[holder]="mutex --by holder"
	[raw]="mutex, raw_syscalls fallback"
)
for load in uncontended contended handoff; do
	base=$(echo "${elapsed[none.$load]}" | median)
	printf '\n| %s loop | time (median of %d) | slowdown | try-lock failures | BPF runs | BPF ns/run |\n' \
		"$load" "$ROUNDS"
	printf '|---|---|---|---|---|---|\n'
	for c in "${configs[@]}"; do
		t=$(echo "${elapsed[$c.$load]}" | median)
		runs=-
		ns=-
		if [ -f "$tmp/$c.$load.bpf" ]; then
			ns=$(awk '{ print $1 }' "$tmp/$c.$load.bpf" | median)
			runs=$(awk '{ print $2 }' "$tmp/$c.$load.bpf" | median)
		fi
		printf '| %s | %.3f s | %+.1f%% | %s | %s | %s |\n' "${what[$c]}" "$t" \
			"$(awk -v t="$t" -v b="$base" 'BEGIN { print (t / b - 1) * 100 }')" \
			"$(echo "${contended[$c.$load]}" | median)" "$runs" "$ns"
	done
done
echo
echo "workloads: $work 1 $UNCONTENDED 0 0 (uncontended), $work 4 $CONTENDED 50 0 (contended),"
echo "$work 4 $HANDOFF 0 50 (handoff) on $(nproc) CPUs; rounds interleaved;"
echo "BPF runs, ns/run: run_cnt and run_time_ns / run_cnt of the futex (or raw_syscalls) and sched_waking programs over the capture (kernel.bpf_stats_enabled), every call on the machine"
