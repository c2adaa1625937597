#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof heap's overhead guard while attached: a process quiet when bpfprof
# attaches that then allocates hard is detached within seconds, its profile
# written with the reason; --force keeps probing; a process that stays quiet
# is not detached; one already busy at attach is still refused; of two
# processes, the busy one is detached and the other stays probed.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "heap guard:"

# running PID: PID exists and is not a zombie (kill -0 succeeds on zombies).
running() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# attach NAME ARGS...: bpfprof heap -p $WPID ARGS in the background (BP),
# output in $TMP/NAME.*; returns once its attach-time slowdown line is out,
# when the probes are in place.
attach() {
	local name=$1
	shift
	"$BPFPROF" heap -p "$WPID" --sampler uprobes -o "$TMP/$name.pb.gz" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BP=$!
	E2E_PIDS+=("$BP")
	for _ in $(seq 600); do
		grep -q 'allocator calls/s' "$TMP/$name.err" 2>/dev/null && return 0
		running "$BP" || return 1
		sleep 0.05
	done
	return 1
}

# wait_exit SECONDS: waits at most SECONDS for BP to exit; RC gets its exit
# status, or stays empty when it still runs.
wait_exit() {
	RC=
	for _ in $(seq $(($1 * 10))); do
		if ! running "$BP"; then
			wait "$BP"
			RC=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# duration FILE: the profile's duration in seconds, from go tool pprof -raw.
duration() {
	go tool pprof -raw "$1" 2>/dev/null | awk '/^Duration:/ { print $2; exit }'
}

# alloc_bytes FILE: the alloc_space of burst_alloc in FILE, in bytes; empty when absent.
alloc_bytes() {
	go tool pprof -top -nodecount=1000 -unit=B -sample_index=alloc_space "$1" 2>/dev/null |
		awk '$6 == "burst_alloc" { sub("B$", "", $4); print $4; exit }'
}

at_least() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 >= b + 0) }'
}

# --- quiet at attach, then allocating hard: detached ---------------------------
start_workload heap_burst 120
if attach guard -d 120; then
	pass "attached to a quiet process ($(grep -o '[0-9]* allocator calls/s' "$TMP/guard.err"))"
else
	fail "did not attach: $(head -c 300 "$TMP/guard.err")"
fi
kill -USR1 "$WPID"
# The guard needs 3 one-second windows over the limit; 40 s leaves room for a
# loaded machine and is still far from the 120 s asked for.
wait_exit 40
check "ends the capture by itself, long before -d 120" test -n "$RC"
check "exit status 0: the profile was written (rc ${RC:-none})" test "${RC:-x}" = 0
check "one line says why: rate, slowdown, limit, how to override" \
	test "$(grep -cE "heap: pid $WPID detached after .* [0-9]+ allocator calls/s, which slowed it .*--max-overhead 10%.*the profile covers the time attached.*--force" "$TMP/guard.err")" = 1
check "the profile is written" test -s "$TMP/guard.pb.gz"
check "the profile decodes (go tool pprof -raw)" sh -c "go tool pprof -raw '$TMP/guard.pb.gz' >/dev/null 2>&1"
got=$(alloc_bytes "$TMP/guard.pb.gz")
check "it holds what was recorded: burst_alloc allocated ${got:-nothing} bytes" at_least "${got:-0}" 1
d=$(duration "$TMP/guard.pb.gz")
check "it covers the time attached, at least the 3 windows over (${d:-?} s)" at_least "${d:-0}" 3
check "the profile says the guard detached it" \
	sh -c "go tool pprof -raw '$TMP/guard.pb.gz' 2>/dev/null | grep -q 'pid $WPID: probes detached after .* by the overhead guard'"

# The same process, now busy, is refused at attach as before.
expect "already busy at attach: refused" 1 'refusing to attach.*--force' -- \
	"$BPFPROF" heap -p "$WPID" --sampler uprobes -d 1 -o "$TMP/busy.pb.gz"
stop_workload "$WPID"

# --- two processes: the busy one is detached, the other stays probed ------------
start_workload heap_burst 120
A=$WPID
start_workload heap_burst 120
B=$WPID
WPID=$A,$B
attach two -d 120 || fail "did not attach to two processes: $(head -c 300 "$TMP/two.err")"
kill -USR1 "$A"
for _ in $(seq 400); do
	grep -q "pid $A detached" "$TMP/two.err" && break
	running "$BP" || break
	sleep 0.1
done
check "two processes: the busy one is detached, the other stays probed" \
	grep -q "pid $A detached.*the other processes stay probed" "$TMP/two.err"
check "... and the capture goes on" running "$BP"
# B starts allocating after A's probes are gone: B's are still there to see it.
kill -USR1 "$B"
wait_exit 40
check "then the other one too, and the capture ends (rc ${RC:-none})" test "${RC:-x}" = 0
check "... with the last line saying the profile covers the time attached" \
	grep -q "pid $B detached.*the profile covers the time attached" "$TMP/two.err"
go tool pprof -raw "$TMP/two.pb.gz" >"$TMP/two.raw" 2>/dev/null
check "the profile holds both processes' allocations" \
	sh -c "grep -q 'pid:\[$A\]' '$TMP/two.raw' && grep -q 'pid:\[$B\]' '$TMP/two.raw'"
check "the profile says when each was detached" \
	test "$(grep -cE "pid ($A|$B): probes detached after" "$TMP/two.raw")" = 2
stop_workload "$A"
stop_workload "$B"

# --- --force: probes stay for the whole capture ---------------------------------
start_workload heap_burst 120
attach force --force -d 8 || fail "--force did not attach: $(head -c 300 "$TMP/force.err")"
kill -USR1 "$WPID"
wait_exit 60
check "--force: exit 0 (rc ${RC:-none})" test "${RC:-x}" = 0
check "--force: not detached" sh -c "! grep -q 'detached' '$TMP/force.err'"
d=$(duration "$TMP/force.pb.gz")
check "--force: the capture ran its 8 s (${d:-?} s)" at_least "${d:-0}" 7.9
got=$(alloc_bytes "$TMP/force.pb.gz")
check "--force: burst_alloc recorded (${got:-nothing} bytes)" at_least "${got:-0}" 1
stop_workload "$WPID"

# --- quiet all along: not detached ------------------------------------------------
start_workload heap_burst 120
attach quiet -d 4 || fail "did not attach to a quiet process: $(head -c 300 "$TMP/quiet.err")"
wait_exit 60
check "quiet process: exit 0 (rc ${RC:-none})" test "${RC:-x}" = 0
check "quiet process: not detached" sh -c "! grep -q 'detached' '$TMP/quiet.err'"
d=$(duration "$TMP/quiet.pb.gz")
check "quiet process: the capture ran its 4 s (${d:-?} s)" at_least "${d:-0}" 3.9
stop_workload "$WPID"

finish
