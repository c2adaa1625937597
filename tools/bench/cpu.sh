#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: overhead of `bpfprof cpu` on a CPU-bound 2-thread workload,
# side by side with no profiler, with the bare timer every cpu-clock sampler
# pays for (`floor clock HZ`: the same perf events, an empty program) and with
# `perf record -g`, in one run.  Configurations are interleaved round by
# round so drift hits all alike; each slowdown compares a run with the
# unprofiled run of its round, and the table shows the median [min..max]
# of those.  Not a test: nothing here passes or fails.
#
# Two measures of the workload: its wall time, and the CPU time its threads
# were charged for the same work.  The CPU time counts the interrupts taken
# while they ran (the sampler) but not time the hypervisor gave to other
# guests, so it is the steadier one here; the wall time also counts the
# profiler's own process (its start-up).
set -eu
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-5}
WORK=${WORK:-16000} # cpu_work rounds: about 20 s on 2 threads here, as a typical -d 30 capture, so start-up weighs little
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; sysctl -q kernel.bpf_stats_enabled=$old_stats' EXIT
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1

work=build/workloads/cpu_work
floor=build/bench/floor
[ -x "$floor" ] || make -s "$floor"
declare -A elapsed cpu pcpu bpfns

# run NAME [PROFILER-ARGS...]: one round of the workload, unprofiled (none),
# under the timer floor (floor-HZ) or under a profiler attached by pid;
# records the workload's wall and CPU time, the profiler's CPU time and, for
# bpfprof, the BPF run time per sample.
run() {
	local name=$1 wpid ppid= s
	shift
	"$work" "$WORK" 2 >"$tmp/w.out" &
	wpid=$!
	case $name in
	none) ;;
	floor-*)
		"$floor" clock "${name#floor-}" &
		ppid=$!
		;;
	*)
		/usr/bin/time -f '%U %S' -o "$tmp/time" "$@" -p "$wpid" >/dev/null 2>&1 &
		ppid=$!
		;;
	esac
	# Read the program counters while loaded; in every configuration, so
	# that bpftool's own CPU time weighs on all alike.
	sleep 3
	s=$(bpf_stats_named on_cpu_sample | cut -d' ' -f1)
	[[ $name != bpfprof* ]] || bpfns[$name]+="$s "
	wait "$wpid"
	case $name in
	none) ;;
	floor-*) kill "$ppid" && wait "$ppid" || true ;;
	*)
		wait "$ppid" || true
		pcpu[$name]+="$(awk '{ print $1 + $2 }' "$tmp/time") "
		;;
	esac
	elapsed[$name]+="$(awk '{ print $2 }' "$tmp/w.out") "
	cpu[$name]+="$(awk '{ print $4 }' "$tmp/w.out") "
}

lines() { tr ' ' '\n' | grep -v '^$'; }
stat() { # stat < VALUES: median [min..max]
	lines | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%s [%s..%s]", a[int((NR + 1) / 2)], a[1], a[NR] }'
}
# ratios VALUES BASES: (value / base - 1) in %, round by round, one a line.
ratios() {
	paste <(echo "$1" | lines) <(echo "$2" | lines) | awk '{ printf "%.2f\n", ($1 / $2 - 1) * 100 }'
}
# pct < VALUES: median [min..max] with signs and %.
pct() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%+.2f%% [%+.2f..%+.2f]", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

# CONFIGS: which configurations run besides none (all by default).
CONFIGS=${CONFIGS:-floor-99 bpfprof-99 perf-99-g floor-999 bpfprof-999 perf-999-g}
# shellcheck disable=SC2206
names=(none $CONFIGS)
for r in $(seq "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	for n in "${names[@]}"; do
		case $n in
		bpfprof-*) run "$n" build/bpfprof cpu -F "${n#*-}" -q -o "$tmp/b.pb.gz" ;;
		perf-*-g)
			hz=${n#perf-}
			run "$n" perf record -F "${hz%-g}" -g -q -o "$tmp/perf.data"
			;;
		*) run "$n" ;;
		esac
	done
done

printf '\n| configuration | workload time | slowdown (wall) | slowdown (workload CPU) | CPU above the floor | profiler CPU (user+sys) | BPF ns/sample |\n'
printf '|---|---|---|---|---|---|---|\n'
for n in "${names[@]}"; do
	hz=${n#*-}
	hz=${hz%-g}
	above=-
	if [ "$n" != none ] && [[ $n != floor-* ]] && [ -n "${cpu[floor-$hz]:-}" ]; then
		# Round by round: this configuration's CPU slowdown minus the floor's.
		above=$(paste <(ratios "${cpu[$n]}" "${cpu[none]}") <(ratios "${cpu[floor-$hz]}" "${cpu[none]}") |
			awk '{ printf "%.2f\n", $1 - $2 }' | pct)
	fi
	c=$(echo "${pcpu[$n]:-}" | median)
	printf '| %s | %s s | %s | %s | %s | %s | %s |\n' "$n" "$(echo "${elapsed[$n]}" | stat)" \
		"$(ratios "${elapsed[$n]}" "${elapsed[none]}" | pct)" \
		"$(ratios "${cpu[$n]}" "${cpu[none]}" | pct)" "$above" "${c:+$c s}" \
		"$(echo "${bpfns[$n]:-}" | median)"
done
echo
echo "workload: $work $WORK 2 (2 threads on $(nproc) CPUs); $ROUNDS rounds, interleaved; median [min..max]"
echo "of the per-round ratios to the unprofiled run.  floor-HZ: $floor clock HZ, the cpu-clock"
echo "events alone with an empty program.  BPF ns/sample: run_time_ns / run_cnt of on_cpu_sample"
echo "(every sample on the machine runs it, target or not)."
