#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: what `bpfprof agent` costs a busy host.  The host is kept
# busy by a multi-process workload (two CPU-bound processes, a lock-heavy
# one and a process started every 50 ms), unprofiled and under the agent
# (cpu alone, and all four types, at 19 and 99 Hz), interleaved round by
# round; each slowdown compares a run with the unprofiled run of its round,
# and the table shows the median [min..max] of those.  The agent's own CPU
# (user+sys of its process) is given in % of one core over the run.  Not a
# test: nothing here passes or fails.
set -eu
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-3}
WORK=${WORK:-6000} # cpu_work rounds per process: about 15 s each here
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
work=build/workloads/cpu_work
mutex=build/workloads/mutex_loop
declare -A elapsed cpu acpu

# run NAME [AGENT-ARGS...]: one round of the workload, with the agent or not.
run() {
	local name=$1 apid= wpids=() spawner t0 t1 p
	shift
	if [ $# -gt 0 ]; then
		/usr/bin/time -f '%U %S %e' -o "$tmp/time" build/bpfprof agent -q \
			--output-dir "$tmp/out" --interval 15s "$@" &
		apid=$!
		sleep 2 # its load and attach: not what a running agent costs
	fi
	t0=$(date +%s%N)
	for p in 1 2; do
		"$work" "$WORK" 1 >"$tmp/w$p.out" &
		wpids+=($!)
	done
	"$mutex" 4 100000000 200 20 >/dev/null 2>&1 &
	local mpid=$!
	bash -c 'while :; do /bin/true; sleep 0.05; done' &
	spawner=$!
	wait "${wpids[@]}"
	t1=$(date +%s%N)
	kill "$mpid" "$spawner" 2>/dev/null
	wait "$mpid" "$spawner" 2>/dev/null || true
	if [ -n "$apid" ]; then
		kill -INT "$apid"
		wait "$apid" || true
		# user + sys over the agent's wall time (its start-up included).
		acpu[$name]+="$(awk '{ printf "%.2f", 100 * ($1 + $2) / $3 }' "$tmp/time") "
	fi
	elapsed[$name]+="$(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", t / 1e9 }') "
	cpu[$name]+="$(cat "$tmp"/w[12].out | awk '{ s += $4 } END { printf "%.3f", s }') "
	rm -rf "$tmp/out"
}

lines() { tr ' ' '\n' | grep -v '^$'; }
stat() { lines | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%s [%s..%s]", a[int((NR + 1) / 2)], a[1], a[NR] }'; }
ratios() {
	paste <(echo "$1" | lines) <(echo "$2" | lines) | awk '{ printf "%.2f\n", ($1 / $2 - 1) * 100 }'
}
pct() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%+.2f%% [%+.2f..%+.2f]", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

names=(none cpu-19 all-19 cpu-99 all-99)
for r in $(seq "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	for n in "${names[@]}"; do
		case $n in
		none) run none ;;
		cpu-*) run "$n" --types cpu --hz "${n#*-}" ;;
		all-*) run "$n" --types cpu,offcpu,mutex,growth --hz "${n#*-}" ;;
		esac
	done
done

printf '\n| agent | workload wall time | slowdown (wall) | slowdown (workload CPU) | agent CPU, %% of one core |\n'
printf '|---|---|---|---|---|\n'
for n in "${names[@]}"; do
	a=$(echo "${acpu[$n]:-}" | stat)
	printf '| %s | %s s | %s | %s | %s |\n' "$n" "$(echo "${elapsed[$n]}" | stat)" \
		"$(ratios "${elapsed[$n]}" "${elapsed[none]}" | pct)" \
		"$(ratios "${cpu[$n]}" "${cpu[none]}" | pct)" "${a:--}"
done
echo
echo "workload: 2 × $work $WORK 1, $mutex 4 threads, a process every 50 ms, on $(nproc) CPUs;"
echo "agent: --output-dir, --interval 15s; cpu-HZ: --types cpu; all-HZ: cpu,offcpu,mutex,growth."
echo "$ROUNDS rounds, interleaved; median [min..max] of the per-round ratios to the unprofiled run."
