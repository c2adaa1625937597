#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof threads against parked, whose named threads block forever in
# park_sleep (nanosleep), park_read (an idle pipe) and park_cond (a condition
# variable), while main waits in pthread_join.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "threads: end-to-end"

N=6 # worker threads: two of each kind

# samples FILE: one line per sample of a threads profile, from go tool pprof
# -raw: "pid tid comm state in_state_ns" (in_state "-" when absent).
samples() {
	go tool pprof -raw "$1" 2>/dev/null | awk '
		function flush() {
			if (open) print pid, tid, comm, state, (ins == "" ? "-" : ins)
			open = 0; pid = tid = comm = state = ins = ""
		}
		/^Samples:/ { on = 1; next }
		/^Locations/ { flush(); on = 0 }
		!on { next }
		/^ +[0-9]+: / { flush(); open = 1; next }
		{
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^pid:\[/) { pid = $i; gsub(/[^0-9]/, "", pid) }
				if ($i ~ /^tid:\[/) { tid = $i; gsub(/[^0-9]/, "", tid) }
				if ($i ~ /^comm:\[/) { comm = $i; sub(/^comm:\[/, "", comm); sub(/\]$/, "", comm) }
				if ($i ~ /^state:\[/) { state = $i; sub(/^state:\[/, "", state); sub(/\]$/, "", state) }
				if ($i ~ /^in_state:\[/) { ins = $i; gsub(/[^0-9]/, "", ins) }
			}
		}
		END { flush() }'
}

# text_block FILE TID: the frames --text printed for thread TID, one per line.
text_block() {
	awk -v tid="$2" '
		/^thread / { on = ($2 == tid); next }
		/^$/ { on = 0 }
		on && !/^\t/ { print }' "$1"
}

launch_ns=$(date +%s%N)
start_workload parked "$N" || exit 1
pid=$WPID
ready_ns=$(date +%s%N)
# The threads block well before bpfprof starts: the point of a snapshot.
sleep 1.5

out=$TMP/threads.pb.gz
before_ns=$(date +%s%N)
"$BPFPROF" threads -p "$pid" -o "$out" --top 100 >"$TMP/top.txt" 2>"$TMP/top.err"
rc=$?
after_ns=$(date +%s%N)
check "threads -p exits 0" test "$rc" -eq 0
check "threads -p prints nothing on stderr" test ! -s "$TMP/top.err"
check "threads -p prints a top table naming park_sleep" grep -q ' park_sleep$' "$TMP/top.txt"
check "threads -p prints the path it wrote" grep -q "wrote $out ($((N + 1)) threads" "$TMP/top.txt"

go tool pprof -raw "$out" >"$TMP/raw.txt" 2>"$TMP/raw.err"
check "go tool pprof -raw reads it" test $? -eq 0
check "go tool pprof -raw prints no warning" test ! -s "$TMP/raw.err"
check "period type threads/count" grep -q '^PeriodType: threads count' "$TMP/raw.txt"
check "sample type threads/count" grep -qE '^ *threads/count *$' "$TMP/raw.txt"

samples "$out" >"$TMP/samples"
ls "/proc/$pid/task" | sort -n >"$TMP/tids.want"
awk '{ print $2 }' "$TMP/samples" | sort -n >"$TMP/tids.got"
check "every thread, main included, is one sample ($((N + 1)))" \
	sh -c "test \$(wc -l <'$TMP/samples') -eq $((N + 1)) && cmp -s '$TMP/tids.want' '$TMP/tids.got'"
bad_pid=$(awk -v p="$pid" '$1 != p' "$TMP/samples" | wc -l)
check "every sample carries pid $pid" test "$bad_pid" -eq 0
names_ok=1
for t in $(cat "$TMP/tids.want"); do
	want=$(cat "/proc/$pid/task/$t/comm")
	got=$(awk -v t="$t" '$2 == t { print $3 }' "$TMP/samples")
	[ "$want" = "$got" ] || { names_ok=0; echo "    tid $t: comm '$got', want '$want'"; }
done
check "every thread has its own name (comm)" test "$names_ok" -eq 1
not_sleeping=$(awk '$4 != "sleeping"' "$TMP/samples" | wc -l)
check "every thread is 'sleeping'" test "$not_sleeping" -eq 0
check "process label" grep -q 'process:\[parked\]' "$TMP/raw.txt"

# Blocked since before bpfprof started: in_state covers that whole time, and
# no more than the workload has lived (10 ms for the scheduler clock's tick).
lo=$(((before_ns - ready_ns) - 10000000))
hi=$(((after_ns - launch_ns) + 10000000))
dur_ok=$(awk -v lo="$lo" -v hi="$hi" '$5 == "-" || $5 < lo || $5 > hi { bad++ } END { print bad + 0 }' "$TMP/samples")
check "in_state of every thread spans the time before bpfprof started ($((lo / 1000000))..$((hi / 1000000)) ms)" \
	test "$dur_ok" -eq 0

# The right functions on each thread's stack.  A blocked thread stops in
# glibc, which keeps no frame pointers: DWARF unwinding (the default) must
# find the direct caller of the libc function (block_*), and get through
# pthread_cond_wait and pthread_join to their callers.
"$BPFPROF" threads -p "$pid" -o "$TMP/text.pb.gz" --text >"$TMP/text.txt" 2>"$TMP/text.err"
check "--text exits 0" test $? -eq 0
check "--text prints every thread" test "$(grep -c '^thread ' "$TMP/text.txt")" -eq $((N + 1))
check "--text keeps stdout for the threads (wrote line on stderr)" \
	sh -c "! grep -q '^wrote' '$TMP/text.txt' && grep -q '^wrote $TMP/text.pb.gz' '$TMP/text.err'"
check "--text still writes the profile" go tool pprof -raw "$TMP/text.pb.gz" >/dev/null 2>&1
check "--text header: thread TID \"comm\" [state, duration]:" \
	grep -qE '^thread [0-9]+ "sleep-0" \[sleeping, [0-9.]+ (ms|seconds)\]:$' "$TMP/text.txt"
line=$(grep -n 'return block_sleep() + 1;' tests/workloads/parked.c | cut -d: -f1)
awk '/^park_sleep$/ { getline; print; exit }' "$TMP/text.txt" >"$TMP/where"
check "--text frames: function, then tab file:line (parked.c:$line)" \
	grep -qx "$(printf '\ttests/workloads/parked.c:%s' "$line")" "$TMP/where"
# want_frames COMM: the functions that must be on the stack of a thread so
# named, innermost first: the kernel's wait, the libc call's direct caller,
# then every caller up to the thread's start.
want_frames() {
	case $1 in
	sleep-*) echo "hrtimer_nanosleep __nanosleep block_sleep park_sleep thread_main start_thread" ;;
	read-*) echo "anon_pipe_read __libc_read block_read park_read thread_main start_thread" ;;
	cond-*) echo "futex_wait ___pthread_cond_wait block_cond park_cond thread_main start_thread" ;;
	parked) echo "futex_wait __pthread_clockjoin_ex main __libc_start_main_impl _start" ;;
	esac
}

# in_order FRAMES WANT...: every WANT is a line of FRAMES, in this order.
in_order() {
	local file=$1
	shift
	awk -v want="$*" 'BEGIN { n = split(want, w, " "); i = 1 }
		i <= n && $0 == w[i] { i++ }
		END { exit i <= n }' "$file"
}

funcs_ok=1
for t in $(cat "$TMP/tids.want"); do
	comm=$(cat "/proc/$pid/task/$t/comm")
	text_block "$TMP/text.txt" "$t" >"$TMP/frames"
	if ! in_order "$TMP/frames" $(want_frames "$comm"); then
		funcs_ok=0
		echo "    tid $t ($comm): want $(want_frames "$comm"), got: $(tr '\n' ' ' <"$TMP/frames")"
	fi
done
check "dwarf: every stack has its blocking call, the libc function's direct caller and every caller up to the thread's start" \
	test "$funcs_ok" -eq 1
check "dwarf: no stack is cut short" \
	sh -c "grep -q '^thread ' '$TMP/text.txt' && ! grep -q '^\[truncated\]' '$TMP/text.txt'"
check "dwarf: the profile says every user stack came from the CFI tables" \
	sh -c "go tool pprof -raw '$TMP/text.pb.gz' 2>/dev/null |
	       grep -q '^Comment: user stacks: $((N + 1)) unwound with CFI tables, 0 by frame pointers'"

# Frame pointers only: what a walk without tables finds, for comparison (not
# asserted beyond working: glibc has no frame pointers, so it skips the
# direct caller of the libc function and gets nowhere past pthread_cond_wait).
"$BPFPROF" threads -p "$pid" --unwind fp -o "$TMP/fp.pb.gz" --text >"$TMP/fp.txt" 2>"$TMP/fp.err"
check "--unwind fp: exits 0 with every thread" \
	sh -c "test $? -eq 0 && test \$(grep -c '^thread ' '$TMP/fp.txt') -eq $((N + 1))"
seen_block=0
seen_park=0
seen_cond=0
for t in $(cat "$TMP/tids.want"); do
	text_block "$TMP/fp.txt" "$t" >"$TMP/frames"
	grep -qx 'block_sleep\|block_read' "$TMP/frames" && seen_block=$((seen_block + 1))
	grep -qx 'park_sleep\|park_read' "$TMP/frames" && seen_park=$((seen_park + 1))
	grep -qx 'park_cond' "$TMP/frames" && seen_cond=$((seen_cond + 1))
done
echo "  info: --unwind fp finds block_sleep/block_read in $seen_block of $((N / 3 * 2)) stacks," \
	"park_sleep/park_read in $seen_park, park_cond in $seen_cond of $((N / 3)) (dwarf: all)"

# -a and --cgroup find the same threads.
"$BPFPROF" threads -a -q -o "$TMP/all.pb.gz" 2>"$TMP/all.err"
check "threads -a exits 0" test $? -eq 0
samples "$TMP/all.pb.gz" | awk -v p="$pid" '$1 == p { print $2 }' | sort -n >"$TMP/all.tids"
check "threads -a has every thread of the workload" cmp -s "$TMP/tids.want" "$TMP/all.tids"
check "threads -a includes kernel threads (state idle or sleeping, no user stack)" \
	sh -c "go tool pprof -raw '$TMP/all.pb.gz' 2>/dev/null | grep -q 'comm:\[kthreadd\]'"

cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$cg_root" ] && mkdir "$cg_root/bpfprof-threads.$$" 2>/dev/null; then
	cg=$cg_root/bpfprof-threads.$$
	"$BPFPROF" threads --cgroup "$cg" -o "$TMP/empty.pb.gz" >/dev/null 2>"$TMP/empty.err"
	check "an empty cgroup: exit 0 and a warning" \
		sh -c "test $? -eq 0 && grep -q 'no threads' '$TMP/empty.err'"
	echo "$pid" >"$cg/cgroup.procs"
	"$BPFPROF" threads --cgroup "$cg" -q -o "$TMP/cg.pb.gz"
	check "threads --cgroup exits 0" test $? -eq 0
	samples "$TMP/cg.pb.gz" | awk '{ print $1, $2 }' | sort -n -k2 >"$TMP/cg.samples"
	check "threads --cgroup has exactly the workload's threads" \
		sh -c "awk -v p='$pid' '\$1 != p { bad++ } END { exit bad > 0 }' '$TMP/cg.samples' &&
		       awk '{ print \$2 }' '$TMP/cg.samples' | cmp -s - '$TMP/tids.want'"
	echo "$pid" >"$cg_root/cgroup.procs"
	rmdir "$cg"
else
	fail "threads --cgroup: cannot create a cgroup v2 directory for the test"
fi

# The snapshot never stops the target: no ptrace, no SIGSTOP, no reads through
# process_vm_readv; the threads are read where they stand, by BPF.
if command -v strace >/dev/null; then
	strace -f -qq -o "$TMP/strace.txt" -e trace=ptrace,kill,tkill,tgkill,process_vm_readv \
		"$BPFPROF" threads -p "$pid" -q -o "$TMP/strace.pb.gz"
	check_rc "threads -p under strace exits 0" $?
	check "... and writes its profile" profile_ok "$TMP/strace.pb.gz"
	check "no ptrace, SIGSTOP or process_vm_readv while taking the snapshot" \
		sh -c "test -e '$TMP/strace.txt' && ! grep -qE 'ptrace\(|SIGSTOP|process_vm_readv\(' '$TMP/strace.txt'"
else
	fail "strace is not installed: cannot check that the target is not stopped"
fi
# Every thread still there (a gone pid has none), every one asleep.
grep -h '^State:' /proc/"$pid"/task/*/status 2>/dev/null | awk '{ print $2 }' | sort | uniq -c >"$TMP/states"
check "the workload is still running, its $((N + 1)) threads asleep, none stopped ($(tr -s ' \n' ' ' <"$TMP/states"))" \
	test "$(awk '$2 == "S" { print $1 }' "$TMP/states")" = $((N + 1)) -a "$(wc -l <"$TMP/states")" -eq 1

# Bad input: one line, exit 2.
for args in "-- sleep 1" "-p $pid -d 1" ""; do
	"$BPFPROF" threads $args -o "$TMP/bad.pb.gz" >"$TMP/bad.out" 2>"$TMP/bad.err"
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] && grep -q '^bpfprof: ' "$TMP/bad.err"; then
		pass "threads ${args:-(no target)}: exit 2, $(cat "$TMP/bad.err")"
	else
		fail "threads ${args:-(no target)}: exit $rc (want 2), stderr: $(head -c 300 "$TMP/bad.err")"
	fi
done
check "nothing written on bad input" test ! -e "$TMP/bad.pb.gz"

stop_workload "$pid"
finish
