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
WORK=${WORK:-12000} # cpu_work rounds per process: about 28 s here, two intervals
INTERVAL=${INTERVAL:-15s} # the agent's default
WARM=${WARM:-17}	  # seconds after its start-up before the measure: one interval and a bit
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
work=build/workloads/cpu_work
mutex=build/workloads/mutex_loop
declare -A elapsed cpu acpu astart
ticks=$(getconf CLK_TCK)
# agent_ticks PID: user+sys clock ticks of the agent so far.
agent_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# run NAME [AGENT-ARGS...]: one round of the workload, with the agent or not.
run() {
	local name=$1 agent= wpids=() spawner t0 t1 p c0 c1
	shift
	if [ $# -gt 0 ]; then
		build/bpfprof agent -q --output-dir "$tmp/out" --interval "$INTERVAL" "$@" &
		agent=$!
		sleep 3 # its load and attach
		c0=$(agent_ticks "$agent")
		astart[$name]+="$(awk -v c="$c0" -v hz="$ticks" 'BEGIN { printf "%.2f", c / hz }') "
		# Past its first interval, so the first reads of the host's symbol
		# tables are behind it: the table gives what a running agent costs.
		sleep "$WARM"
		c0=$(agent_ticks "$agent")
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
	if [ -n "$agent" ]; then
		# While the workload ran: what a running agent costs.
		c1=$(agent_ticks "$agent")
		acpu[$name]+="$(awk -v c=$((c1 - c0)) -v hz="$ticks" -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", 100 * c / hz / (t / 1e9) }') "
		kill -INT "$agent"
		wait "$agent" || true
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

printf '\n| agent | workload wall time | slowdown (wall) | slowdown (workload CPU) | agent CPU while running, %% of one core | agent start-up CPU |\n'
printf '|---|---|---|---|---|---|\n'
for n in "${names[@]}"; do
	a=$(echo "${acpu[$n]:-}" | stat)
	b=$(echo "${astart[$n]:-}" | stat)
	printf '| %s | %s s | %s | %s | %s | %s |\n' "$n" "$(echo "${elapsed[$n]}" | stat)" \
		"$(ratios "${elapsed[$n]}" "${elapsed[none]}" | pct)" \
		"$(ratios "${cpu[$n]}" "${cpu[none]}" | pct)" "${a:--}" "${b:+$b s}"
done
echo
echo "workload: 2 × $work $WORK 1, $mutex 4 threads, a process every 50 ms, on $(nproc) CPUs;"
echo "agent: --output-dir, --interval $INTERVAL; cpu-HZ: --types cpu; all-HZ: cpu,offcpu,mutex,growth;"
echo "its CPU (user+sys, /proc/PID/stat) in its first 3 s (load, attach), and while the workload"
echo "ran, from $((3 + WARM)) s after its start (its first interval reads the host's symbol tables)."
echo "$ROUNDS rounds, interleaved; median [min..max] of the per-round ratios to the unprofiled run."
