#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof threadcreate against threadcreate_sites, which creates a known
# number of threads from two places (threads "maker-a", "maker-b") and forks
# a known number of processes from a third ("forker"): counts are exact.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "threadcreate: end-to-end"

# counts FILE [PPROF_FLAGS...]: "comm kind count" per thread name and kind.
counts() {
	local file=$1
	shift
	go tool pprof -raw "$@" "$file" 2>/dev/null | awk '
		/^Samples:/ { on = 1; next }
		/^Locations/ { on = 0 }
		on && /^ +[0-9]+: / { n = $1 + 0; next }
		on && /comm:\[/ {
			c = $0; sub(/.*comm:\[/, "", c); sub(/\].*/, "", c)
			k = $0; sub(/.*kind:\[/, "", k); sub(/\].*/, "", k)
			sum[c " " k] += n
		}
		END { for (x in sum) print x, sum[x] }'
}

# sites FILE: "spawn_a spawn_b" thread creations under each function (past
# glibc's __clone3, whose syscall has no CFI).
sites() {
	go tool pprof -top -nodecount=1000 -tagfocus=kind=thread "$1" 2>/dev/null |
		awk '$6 == "spawn_a" { a = $4 } $6 == "spawn_b" { b = $4 } END { print a + 0, b + 0 }'
}

# expect_count NAME FILE COMM KIND WANT
expect_count() {
	local got
	got=$(awk -v c="$3" -v k="$4" '$1 == c && $2 == k { print $3 }' "$2")
	if [ "${got:-0}" = "$5" ]; then
		pass "$1: $3 created $5 (kind $4)"
	else
		fail "$1: $3 created ${got:-0} (kind $4), want $5"
	fi
}

# expect_creations NAME FILE A B P: maker-a created A threads, maker-b B
# (spawn_a A and spawn_b B by call site), forker P processes.
expect_creations() {
	counts "$2" >"$TMP/counts"
	expect_count "$1" "$TMP/counts" maker-a thread "$3"
	expect_count "$1" "$TMP/counts" maker-b thread "$4"
	expect_count "$1" "$TMP/counts" forker process "$5"
	check "$1: thread creations by call site: spawn_a $3, spawn_b $4 ($(sites "$2"))" \
		test "$(sites "$2")" = "$3 $4"
}

# --- launched with --: 30 threads from spawn_a, 20 from spawn_b, 5 forks ---
out=$TMP/cmd.pb.gz
if "$BPFPROF" threadcreate -o "$out" -- "$WORKLOADS/threadcreate_sites" 30 20 5 0.5 \
	>"$TMP/cmd.txt" 2>"$TMP/cmd.err"; then
	pass "threadcreate -- CMD exits 0"
else
	fail "threadcreate -- CMD exits 0: $(cat "$TMP/cmd.err")"
fi
counts "$out" >"$TMP/counts"
expect_count "-- CMD" "$TMP/counts" maker-a thread 30
expect_count "-- CMD" "$TMP/counts" maker-b thread 20
expect_count "-- CMD" "$TMP/counts" forker process 5
expect_count "-- CMD" "$TMP/counts" forker thread 0
expect_count "-- CMD (main thread starts the three makers)" "$TMP/counts" threadcreate_si thread 3
check "the fork call site: fork_site, 5 times" \
	test "$(go tool pprof -top -nodecount=1000 -tagfocus=comm=forker "$out" 2>/dev/null |
		awk '$6 == "fork_site" { print $4 }')" = 5
check "thread creations by call site: spawn_a 30, spawn_b 20 ($(sites "$out"))" \
	test "$(sites "$out")" = "30 20"
check "the top table ranks create_one, the caller of pthread_create" \
	grep -qE '^ +50 .* create_one$' "$TMP/cmd.txt"
# Made before the program could have been seen running: it stops at its entry
# point until its maps are read, so even these stacks are whole.
check "the main thread's first creations: main <- pthread_create, 3 times" \
	test "$(go tool pprof -top -nodecount=1000 -tagfocus=comm=threadcreate_si "$out" 2>/dev/null |
		awk '$6 == "main" { print $4 }')" = 3
check "no frame in an unknown mapping" sh -c "! grep -q 'no known mapping' '$TMP/cmd.err'"
check "prints the path it wrote" grep -q "wrote $out" "$TMP/cmd.txt"

check_raw "$out"
check "Go's threadcreate names: threadcreate/count, period 1" \
	sh -c "grep -qE '^ *threadcreate/count\$' '$TMP/raw.txt' && grep -q '^PeriodType: threadcreate count' '$TMP/raw.txt' && grep -q '^Period: 1\$' '$TMP/raw.txt'"
check "pid, tid and process labels" \
	sh -c "grep -qE 'pid:\[[0-9]+\] tid:\[[0-9]+\]' '$TMP/raw.txt' && grep -q 'process:\[threadcreate_sites\]' '$TMP/raw.txt'"
# Kernel stacks start at kernel_clone: threads by clone3, forks by clone.
go tool pprof -traces "$out" 2>/dev/null | awk '/^ +[0-9]+ +[^ ]/ { print $2 }' | sort -u >"$TMP/leaves"
check "every stack starts at kernel_clone" test "$(cat "$TMP/leaves")" = kernel_clone
check "threads come from clone3, processes from clone" \
	sh -c "go tool pprof -traces -tagfocus=kind=thread '$out' 2>/dev/null | grep -q ' __do_sys_clone3$' && go tool pprof -traces -tagfocus=kind=process '$out' 2>/dev/null | grep -q ' __do_sys_clone$'"

# --- by pid: the workload waits 3 s before creating ---
start_workload threadcreate_sites 40 10 3 3 || exit 1
pid=$WPID
out=$TMP/pid.pb.gz
"$BPFPROF" threadcreate -p "$pid" -d 10 -q -o "$out" 2>"$TMP/pid.err"
check "threadcreate -p exits 0 when the target exits" test $? -eq 0
expect_creations "-p" "$out" 40 10 3
stop_workload "$pid"

# --- children are followed: the shell's child is profiled too ---
out=$TMP/sh.pb.gz
"$BPFPROF" threadcreate -q -o "$out" -- sh -c "'$WORKLOADS/threadcreate_sites' 3 2 1 0.5; true" \
	2>"$TMP/sh.err"
check "threadcreate -- sh -c exits 0" test $? -eq 0
counts "$out" >"$TMP/counts"
expect_count "followed child" "$TMP/counts" sh process 1
expect_count "followed child" "$TMP/counts" maker-a thread 3
expect_count "followed child" "$TMP/counts" maker-b thread 2

# --- the raw_tp fallback counts the same ---
out=$TMP/raw.pb.gz
BPFPROF_RAW_TP=1 "$BPFPROF" threadcreate -q -o "$out" -- "$WORKLOADS/threadcreate_sites" 7 4 2 0.5 \
	2>"$TMP/rawtp.err"
check "raw_tp fallback exits 0" test $? -eq 0
expect_creations "raw_tp" "$out" 7 4 2
go tool pprof -traces "$out" 2>/dev/null | awk '/^ +[0-9]+ +[^ ]/ { print $2 }' | sort -u >"$TMP/leaves"
check "raw_tp fallback: every stack starts at kernel_clone" test "$(cat "$TMP/leaves")" = kernel_clone

# --- whole system: the workload starts once the capture runs ---
out=$TMP/all.pb.gz
# Ready once its programs see processes start (-v says so): one is started
# every 0.1 s until then.
"$BPFPROF" threadcreate -a -d 6 -v -o "$out" >/dev/null 2>"$TMP/all.err" &
prof=$!
E2E_PIDS+=("$prof")
for _ in $(seq 100); do
	grep -q '^bpfprof: process event' "$TMP/all.err" && break
	kill -0 "$prof" 2>/dev/null || break
	/bin/true
	sleep 0.1
done
check "threadcreate -a -v: sees processes start" grep -q '^bpfprof: process event' "$TMP/all.err"
"$WORKLOADS/threadcreate_sites" 6 5 1 2>/dev/null
wait "$prof"
check_rc "threadcreate -a exits 0" $?
# Gone before its name was read: the process label falls back to the comm.
counts "$out" -tagfocus=process=threadcreate_si >"$TMP/counts"
expect_count "-a" "$TMP/counts" maker-a thread 6
expect_count "-a" "$TMP/counts" maker-b thread 5
check_none "threadcreate -a has no tid labels by default" "$out" 'tid:\['

finish
