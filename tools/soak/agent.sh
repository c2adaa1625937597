#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Soak test of bpfprof agent (not part of make test): a process started and
# exited every 100 ms beside 50 long-lived ones, the agent recording TYPES;
# every minute a line with the agent's RSS and CPU and what it keeps.
#
# usage: sudo tools/soak/agent.sh [MINUTES (60)] [TYPES (cpu,offcpu,mutex,growth)] [HZ (19)]
#
# SOAK_CGROUP=/sys/fs/cgroup (a cgroup v2 mount) runs the workload in a
# cgroup of its own and the agent with --cgroup: on a machine doing other
# work, its tables then hold what the soak runs, not everything else.
set -u
cd "$(dirname "$0")/../.."
minutes=${1:-60}
types=${2:-cpu,offcpu,mutex,growth}
hz=${3:-19}
BPFPROF=${BPFPROF:-build/bpfprof}
dir=$(mktemp -d "${TMPDIR:-/tmp}/bpfprof-soak.XXXXXX")
pids=()
cg=
if [ -n "${SOAK_CGROUP:-}" ]; then
	cg=$SOAK_CGROUP/bpfprof-soak.$$
	mkdir "$cg" || exit 1
fi
# incg CMD...: CMD in the soak's cgroup, if it has one; exec'd, so that a
# background `incg ... &` is the very process $! names.
incg() {
	if [ -n "$cg" ]; then
		exec bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"
	else
		exec "$@"
	fi
}

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "$cg" ]; then
		# Whatever is left in the cgroup (the loops' children).
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		sleep 0.5
		rmdir "$cg" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 50 long-lived processes: a little work each second, sleeping in between
# without starting a process (read -t on a FIFO nobody writes).
mkfifo "$dir/never"
for i in $(seq 50); do
	incg bash -c 'exec 3<>"$1"; while :; do i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; read -t 1 -u 3; done' \
		soak-long "$dir/never" &
	pids+=($!)
done
# A process started and exited every 100 ms (plus the sleep between them).
incg bash -c 'while :; do sh -c "i=0; while [ \$i -lt 100 ]; do i=\$((i+1)); done"; sleep 0.1; done' &
pids+=($!)

"$BPFPROF" agent --types "$types" --hz "$hz" --listen 127.0.0.1:0 --output-dir "$dir/out" \
	--max-disk 100M --interval 15s ${cg:+--cgroup "$cg"} 2>"$dir/agent.log" &
agent=$!
pids+=($agent)
port=
for _ in $(seq 100); do
	port=$(sed -n 's|.*http://[^ ]*:\([0-9][0-9]*\)/debug/pprof/.*|\1|p' "$dir/agent.log" | head -n1)
	[ -n "$port" ] && break
	sleep 0.2
done
if [ -z "$port" ]; then
	echo "the agent did not start: $(cat "$dir/agent.log")" >&2
	exit 1
fi

metric() { awk -v m="bpfprof_agent_$1" '$1 == m { printf "%d", $2 }' "$dir/metrics"; }
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$agent/stat"; }
# rss: all resident pages, anon: its own memory (heap), file: pages of the
# files it reads symbols from and the unwind tables' BPF map (kernel memory
# either way, mapped into it).
printf "%6s %8s %8s %8s %8s %9s %8s %8s %9s %9s %8s\n" minute rss_MiB anon_MiB file_MiB cpu_% \
	processes stacks services history_K evicted symfiles
c0=$(cpu_ticks) t0=$(date +%s)
for m in $(seq "$minutes"); do
	sleep 60
	kill -0 $agent 2>/dev/null || { echo "the agent died: $(tail -n3 "$dir/agent.log")" >&2; exit 1; }
	curl -s "http://127.0.0.1:$port/metrics" >"$dir/metrics"
	c1=$(cpu_ticks) t1=$(date +%s)
	rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$agent/status")
	anon=$(awk '/^RssAnon/ { printf "%.1f", $2 / 1024 }' "/proc/$agent/status")
	file=$(awk '/^Rss(File|Shmem)/ { s += $2 } END { printf "%.1f", s / 1024 }' "/proc/$agent/status")
	cpu=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v hz="$ticks" 'BEGIN { printf "%.2f", 100 * c / hz / t }')
	printf "%6d %8s %8s %8s %8s %9s %8s %8s %9s %9s %8s\n" "$m" "$rss" "$anon" "$file" "$cpu" \
		"$(metric processes_tracked)" \
		"$(metric stacks)" "$(metric services)" "$(($(metric history_bytes) / 1024))" \
		"$(($(metric stacks_evicted_total) + $(metric cumulative_dropped_total)))" \
		"$(metric symbol_files)"
	c0=$c1 t0=$t1
done
kill -TERM $agent
wait $agent
echo "agent exit status $?"
