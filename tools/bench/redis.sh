#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench` (or alone): what `bpfprof heap`'s in-process sampler costs
# Debian's redis-server (jemalloc) in throughput under redis-benchmark.
# Each measurement starts a fresh redis-server pinned to one CPU, with
# redis-benchmark and bpfprof pinned to another, in one of these states:
#   none     no profiler
#   sampler  bpfprof heap -p --sampler inject, default rate (a full capture)
#   orphan   the sampler left behind by a SIGKILLed bpfprof: it still
#            samples, nothing traps (no BPF)
# Rounds are interleaved (the order rotates each round) so drift hits all
# alike; the table shows each state's median, its spread (min..max) and
# the median's change against none; and redis-server's CPU time per
# request (from /proc/PID/schedstat), which a busy machine disturbs less
# than the throughput.  Needs 2 CPUs; run it on a quiet machine.  Not a
# test: nothing here passes or fails.
#   ROUNDS=7 REQUESTS=200000 CONFIGS="none sampler orphan" tools/bench/redis.sh
set -eu
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
	echo "redis: redis-server or redis-benchmark not installed (make deps): skipped"
	exit 0
fi

ROUNDS=${ROUNDS:-7}
REQUESTS=${REQUESTS:-200000}
TESTS=${TESTS:-set,get,lpush,lpop}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
configs=(${CONFIGS:-none sampler orphan})
tmp=$(mktemp -d)
rpid=
bp=
stop_all() {
	[ -n "$bp" ] && kill -INT "$bp" 2>/dev/null && wait "$bp" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	bp= rpid=
	return 0
}
trap 'stop_all; rm -rf "$tmp"' EXIT
declare -A rps cpu

start_redis() {
	port=$((20000 + RANDOM % 20000))
	taskset -c "$SERVER_CPU" redis-server --port "$port" --save "" --appendonly no \
		--daemonize no >/dev/null 2>&1 &
	rpid=$!
	for _ in $(seq 100); do
		redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.05
	done
	echo "redis: redis-server did not start" >&2
	exit 1
}

# sampler [--kill]: bpfprof's sampler injected into redis; --kill: bpfprof SIGKILLed after.
sampler() {
	rm -f "$tmp/err"
	taskset -c "$CLIENT_CPU" build/bpfprof heap -v -p "$rpid" --sampler inject -d 600 \
		-o "$tmp/p.pb.gz" >/dev/null 2>"$tmp/err" &
	bp=$!
	for _ in $(seq 600); do
		grep -qE 'samples in-process|cannot' "$tmp/err" && break
		sleep 0.05
	done
	grep -q 'samples in-process' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
	sleep 2 # bpfprof's own start-up (unwind tables) done
	if [ "${1:-}" = --kill ]; then
		kill -9 "$bp"
		wait "$bp" 2>/dev/null || true
		bp=
	fi
}

# redis-server's CPU time so far (ns, every thread).
server_ns() {
	cat /proc/"$rpid"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s }'
}

# The requests per second of every test, summed, into rps[$1]; CPU ns per request into cpu[$1].
bench() {
	local ntests t0 r
	ntests=$(echo "$TESTS" | tr ',' '\n' | wc -l)
	t0=$(server_ns)
	r=$(taskset -c "$CLIENT_CPU" redis-benchmark -p "$port" -q -n "$REQUESTS" -t "$TESTS" -d 256 -P 4 2>/dev/null |
		tr '\r' '\n' | awk '{ for (i = 1; i <= NF; i++) if ($i == "requests") s += $(i - 1) } END { print s }')
	rps[$1]+="$r "
	cpu[$1]+="$(awk -v a="$t0" -v b="$(server_ns)" -v n=$((REQUESTS * ntests)) 'BEGIN { printf "%.0f", (b - a) / n }') "
}

for r in $(seq "$ROUNDS"); do
	n=${#configs[@]}
	for i in $(seq 0 $((n - 1))); do
		c=${configs[$(((i + r) % n))]}
		start_redis
		case $c in
		sampler) sampler ;;
		orphan) sampler --kill ;;
		esac
		bench "$c"
		stop_all
	done
done

# table NAME UNIT VALUES...: one line per state, from the array named NAME.
table() {
	local -n a=$1
	local base c
	base=$(echo "${a[none]:-}" | median)
	printf "%-8s %12s %23s %8s %9s\n" state "median $2" "min..max" spread "vs none"
	for c in "${configs[@]}"; do
		echo "${a[$c]:-}" | tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk -v c="$c" -v b="$base" '
			{ v[NR] = $1 }
			END {
				if (!NR) { printf "%-8s %12s\n", c, "-"; exit }
				m = v[int((NR + 1) / 2)]
				printf "%-8s %12.0f %11.0f..%-11.0f %7.1f%% %8s\n", c, m, v[1], v[NR],
					(v[NR] - v[1]) / m * 100, b ? sprintf("%+.1f%%", (m - b) / b * 100) : "-" }'
	done
}

printf "redis-benchmark -t %s -d 256 -P 4, %d requests each; redis-server on CPU %s, the client\n" "$TESTS" "$REQUESTS" "$SERVER_CPU"
printf "and bpfprof on CPU %s; %d interleaved rounds\n" "$CLIENT_CPU" "$ROUNDS"
echo "throughput, requests/s summed over the tests:"
table rps req/s
echo "redis-server's CPU time per request:"
table cpu ns
