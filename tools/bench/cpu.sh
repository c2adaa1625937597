#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: overhead of `bpfprof cpu` on a CPU-bound 2-thread workload,
# side by side with no profiler and with `perf record -g`, in one run.
# Configurations are interleaved round by round so drift hits all alike;
# the table shows medians.  Not a test: nothing here passes or fails.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-5}
WORK=${WORK:-16000} # cpu_work rounds: about 20 s on 2 threads here, as a typical -d 30 capture, so start-up weighs little
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; sysctl -q kernel.bpf_stats_enabled=$old_stats' EXIT
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1

work=build/workloads/cpu_work
declare -A elapsed cpu bpfns

# run NAME PROFILER-ARGS...: one round of the workload under a profiler
# attached by pid; records the workload's time, the profiler's CPU time and,
# for bpfprof, the BPF run time per sample.
run() {
	local name=$1 wpid ppid t
	shift
	"$work" "$WORK" 2 >"$tmp/w.out" &
	wpid=$!
	if [ "$name" != none ]; then
		/usr/bin/time -f '%U %S' -o "$tmp/time" "$@" -p "$wpid" >/dev/null 2>&1 &
		ppid=$!
	fi
	# Read bpfprof's program counters while it is loaded; in every
	# configuration, so that bpftool's own CPU time weighs on all alike.
	sleep 3
	bpftool prog show -j 2>/dev/null | tr '{' '\n' | grep '"name":"on_cpu_sample"' |
		sed -n 's/.*"run_time_ns":\([0-9]*\),"run_cnt":\([0-9]*\).*/\1 \2/p' |
		awk '$2 > 0 { t += $1; c += $2 } END { if (c) printf "%.0f\n", t / c }' \
		>>"$tmp/$name.bpf"
	[[ $name == bpfprof* ]] || rm -f "$tmp/$name.bpf"
	wait "$wpid"
	[ "$name" = none ] || wait "$ppid" || true
	t=$(awk '{ print $2 }' "$tmp/w.out")
	elapsed[$name]+="$t "
	[ "$name" = none ] || cpu[$name]+="$(awk '{ print $1 + $2 }' "$tmp/time") "
}

median() {
	tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "" }'
}

names=(none bpfprof-99 bpfprof-999 perf-99-g)
for r in $(seq "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	run none
	run bpfprof-99 build/bpfprof cpu -F 99 -q -o "$tmp/b.pb.gz"
	run bpfprof-999 build/bpfprof cpu -F 999 -q -o "$tmp/b.pb.gz"
	run perf-99-g perf record -F 99 -g -q -o "$tmp/perf.data"
done

base=$(echo "${elapsed[none]}" | median)
printf '\n| profiler | workload time (median of %d) | slowdown | profiler CPU (user+sys) | BPF ns/sample |\n' "$ROUNDS"
printf '|---|---|---|---|---|\n'
for n in "${names[@]}"; do
	t=$(echo "${elapsed[$n]}" | median)
	c=$(echo "${cpu[$n]:-}" | median)
	b=$( [ -f "$tmp/$n.bpf" ] && median <"$tmp/$n.bpf" || true)
	printf '| %s | %.3f s | %+.2f%% | %s | %s |\n' "$n" "$t" \
		"$(awk -v t="$t" -v b="$base" 'BEGIN { print (t / b - 1) * 100 }')" \
		"${c:+${c} s}" "${b:--}"
done
echo
echo "workload: build/workloads/cpu_work $WORK 2 (2 threads on $(nproc) CPUs); rounds interleaved"
