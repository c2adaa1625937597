#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof offcpu against offcpu_sites, whose threads wait in known functions
# and measure their own waits: the delay per function must match (±10%), and
# the state label must say how they waited.  With the default options
# (intervals under 1 ms sampled) and with --exact; and against pingpong,
# whose waits are all short and sampled: the estimated count and delay of
# its waits must match what it measured of itself (±10%).
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "offcpu: end-to-end"

# contentions FILE FUNCTION: cum count of off-CPU intervals under FUNCTION (0 when absent).
contentions() {
	go tool pprof -top -nodecount=1000 -sample_index=contentions "$1" 2>/dev/null |
		awk -v fn="$2" '$6 == fn && !v { v = $4 } END { print v + 0 }'
}

# measured RESULT SITE: what the workload measured for SITE, in ms.
measured() {
	awk -v s="$2" '$1 == s { printf "%.2f\n", $2 / 1e6 }' "$1"
}

# leaves FILE [PPROF_FLAGS...]: the first frame of every stack, sorted, one a line.
leaves() {
	local file=$1
	shift
	go tool pprof -traces "$@" "$file" 2>/dev/null |
		awk '/^ +[0-9.]+[a-zµ]*s +[^ ]/ { print $2 }' | sort -u
}

# The scheduler's own functions (the __sched section), which the kernel
# leaves out of a sleeping task's stack (as /proc/PID/stack does).
SCHED_FRAMES='^(__schedule|schedule|schedule_[a-z_]+|preempt_schedule[a-z_]*|io_schedule[a-z_]*|do_nanosleep|__mutex_lock[a-z_.0-9]*)$'

# near NAME GOT WANT [WHAT [UNIT]]: GOT within 10% of WANT (UNIT ms unless given).
near() { near_10pct "$1" "$2" "$3" "${4:-workload measured}" "${5- ms}"; }

# at_least NAME PART WHOLE SHARE: PART is at least SHARE (0..1) of WHOLE.
at_least() {
	if [ -n "$2" ] && [ -n "$3" ] && awk -v p="$2" -v w="$3" -v s="$4" \
		'BEGIN { exit !(w > 0 && p >= s * w) }'; then
		pass "$1: ${2} of ${3} ms"
	else
		fail "$1: ${2:-absent} of ${3:-absent} ms (want >= $4)"
	fi
}

# --- blocking: sleep, pipe, mutex, vfork; launched with -- ---
res=$TMP/block.res
out=$TMP/block.pb.gz
if "$BPFPROF" offcpu -o "$out" -- "$WORKLOADS/offcpu_sites" block 3 "$res" \
	>"$TMP/block.txt" 2>"$TMP/block.err"; then
	pass "offcpu -- CMD exits 0"
else
	fail "offcpu -- CMD exits 0: $(cat "$TMP/block.err")"
fi
for site in sleep_site pipe_site mutex_site; do
	total=$(delay "$out" "$site")
	near "$site delay" "$total" "$(measured "$res" "$site")"
	at_least "$site waits are labelled state=sleeping" \
		"$(delay "$out" "$site" -tagfocus=state=sleeping)" "$total" 0.9
done
# bpfprof holds a launched command at its entry point until its maps are
# read: that stop is bpfprof's, not the program's, and is not recorded.
check_none "-- CMD: no stopped interval (bpfprof's stop at the entry point is left out)" \
	"$out" ' _start$' -top -nodecount=1000 -tagfocus=state=stopped
# The parent of a vfork waits uninterruptibly (killable) for its child.
near "vfork_site parent's wait, state=disk" "$(delay "$out" vfork_site -tagfocus=state=disk)" \
	"$(measured "$res" vfork_site)"
# The top table ranks the blocking user function: syscall() for sleep and read.
check "the top table's first row is the user blocking call" \
	sh -c "grep -A1 -E '^ +flat +flat%' '$TMP/block.txt' | tail -n1 | grep -qE 's +[0-9.]+% .* syscall\$'"
check "offcpu prints the path it wrote" grep -q "wrote $out" "$TMP/block.txt"

check_raw_contentions "$out" block
check "state, comm and process labels" \
	sh -c "grep -q 'state:\[sleeping\]' '$TMP/raw.txt' && grep -q 'comm:\[sleeper\]' '$TMP/raw.txt' && grep -q 'process:\[offcpu_sites\]' '$TMP/raw.txt'"
check "pid and tid labels" grep -qE 'pid:\[[0-9]+\] tid:\[[0-9]+\]' "$TMP/raw.txt"
# The first kernel frame is where the thread waited: neither the scheduler nor BPF.
leaves "$out" >"$TMP/leaves"
check "no stack starts in the scheduler ($(tr '\n' ' ' <"$TMP/leaves"))" \
	sh -c "test -s '$TMP/leaves' && ! grep -qE '$SCHED_FRAMES' '$TMP/leaves'"
check "sampling is said in the profile" \
	sh -c "go tool pprof -raw '$out' 2>/dev/null | grep -q '^Comment: sampled as Go.s block profile'"
check_none "no BPF or tracepoint frames" "$out" 'bpf_prog_|bpf_trace_run|__traceiter_' -traces
check "the user stack goes on above the site: mutex_site <- waiter" \
	sh -c "go tool pprof -traces -tagfocus=comm=waiter '$out' 2>/dev/null | grep -A1 -E ' mutex_site$' | grep -q ' waiter$'"

# --- the same with --exact: every interval, stacks taken at switch-out ---
res=$TMP/exact.res
out=$TMP/exact.pb.gz
"$BPFPROF" offcpu --exact -q -o "$out" -- "$WORKLOADS/offcpu_sites" block 2 "$res" \
	2>"$TMP/exact.err"
check "offcpu --exact exits 0" test $? -eq 0
for site in sleep_site pipe_site mutex_site; do
	near "--exact: $site delay" "$(delay "$out" "$site")" "$(measured "$res" "$site")"
done
check_none "--exact -- CMD: no stopped interval either" \
	"$out" ' _start$' -top -nodecount=1000 -tagfocus=state=stopped
check_none "--exact does not say it sampled" "$out" '^Comment: sampled'
# Stacks taken in the tracepoint are trimmed to start where sampled ones do.
# Compared in the sleeping state: a thread preempted on its way out of an
# interrupt now and then starts at irqentry_exit_to_user_mode in one mode.
leaves "$out" >"$TMP/exact.leaves"
check "--exact: no stack starts in the scheduler ($(tr '\n' ' ' <"$TMP/exact.leaves"))" \
	sh -c "test -s '$TMP/exact.leaves' && ! grep -qE '$SCHED_FRAMES' '$TMP/exact.leaves'"
check "--exact and sampled stacks of sleep_site start alike ($(leaves "$out" -focus=sleep_site -tagfocus=state=sleeping | tr '\n' ' '))" \
	test "$(leaves "$out" -focus=sleep_site -tagfocus=state=sleeping)" = "$(leaves "$TMP/block.pb.gz" -focus=sleep_site -tagfocus=state=sleeping)"

# --- short waits, all sampled: pingpong's threads on one CPU, ~3 us apart ---
out=$TMP/pingpong.pb.gz
"$BPFPROF" offcpu -q -o "$out" -- taskset -c 0 "$WORKLOADS/pingpong" 300000 \
	>"$TMP/pingpong.txt" 2>"$TMP/pingpong.err"
check "offcpu on pingpong exits 0" test $? -eq 0
# Its own count: both threads' time off the CPU (wall - CPU time), switches.
want_ms=$(awk '{ print $8 }' "$TMP/pingpong.txt")
want_n=$(awk '{ print $10 }' "$TMP/pingpong.txt")
got_n=$(go tool pprof -top -sample_index=contentions "$out" 2>/dev/null |
	sed -n 's/.*Total samples = \([0-9]*\).*/\1/p')
got_ms=$(go tool pprof -top -unit=ms -sample_index=delay "$out" 2>/dev/null |
	sed -n 's/.*Total samples = \([0-9.]*\)ms.*/\1/p')
near "pingpong: estimated delay of ~600k short waits" "$got_ms" "$want_ms" \
	"workload measured (wall - CPU)"
near "pingpong: estimated contentions" "$got_n" "$want_n" "context switches" ""
kept=$(go tool pprof -raw "$out" 2>/dev/null | sed -n 's/^Comment: \([0-9]*\) of [0-9]* intervals kept.*/\1/p')
check "pingpong: few intervals kept (${kept:-?} of ~600k)" \
	sh -c "test -n '$kept' && test '$kept' -gt 100 && test '$kept' -lt 30000"

# --- preemption: 3 busy threads on 2 CPUs wait on the run queue ---
res=$TMP/busy.res
out=$TMP/busy.pb.gz
"$BPFPROF" offcpu -q -o "$out" -- "$WORKLOADS/offcpu_sites" busy 3 "$res" 2>"$TMP/busy.err"
check "offcpu (busy) exits 0" test $? -eq 0
total=$(delay "$out" burn_site)
want=$(measured "$res" burn_site)
# What the comparison stands on: the workload measured a wait worth comparing.
need "the busy threads waited ${want:-?} ms on a run queue (schedstat; 500 or more)" \
	awk -v w="$want" 'BEGIN { exit !(w != "" && w >= 500) }'
near "burn_site run-queue wait (schedstat run_delay)" \
	"$(delay "$out" burn_site -tagfocus=state=runnable)" "$want"
at_least "burn_site waits are labelled state=runnable" \
	"$(delay "$out" burn_site -tagfocus=state=runnable)" "$total" 0.95

# --- a wait still going on at the end counts up to the end ---
res=$TMP/nap.res
out=$TMP/nap.pb.gz
"$BPFPROF" offcpu -q -d 1 -o "$out" -- "$WORKLOADS/offcpu_sites" nap 10 "$res" 2>"$TMP/nap.err"
check "offcpu -d 1 on a longer command exits 0" test $? -eq 0
dur=$(go tool pprof -raw "$out" 2>/dev/null | awk '/^Duration:/ { printf "%.2f\n", $2 * 1000 }')
near "long_nap, asleep past the end: delay up to the end" "$(delay "$out" long_nap)" "$dur" \
	"capture lasted"
check "long_nap is one interval" test "$(contentions "$out" long_nap)" = 1

# --- by pid, with filters ---
start_workload offcpu_sites block 60 "$TMP/pid.res" || exit 1
pid=$WPID
out=$TMP/pid.pb.gz
"$BPFPROF" offcpu -p "$pid" -d 2 -q -o "$out" 2>"$TMP/pid.err"
check "offcpu -p exits 0" test $? -eq 0
for site in sleep_site pipe_site mutex_site; do
	check "offcpu -p: $site present" test -n "$(delay "$out" "$site")"
done
check "offcpu -p: tid label of the sleeper thread" \
	sh -c "go tool pprof -raw -tagfocus=comm=sleeper '$out' 2>/dev/null | grep -q 'tid:\['"
check "bpfprof report reads it" sh -c "'$BPFPROF' report -t 0 '$out' | grep -q ' sleep_site$'"

out=$TMP/min.pb.gz
"$BPFPROF" offcpu -p "$pid" -d 1.5 -q --min-block 15ms -o "$out" 2>"$TMP/min.err"
check_rc "--min-block 15ms exits 0" $?
# Each sample sums intervals of 15 ms or more: delay >= 15 ms x contentions.
short=$(go tool pprof -raw "$out" 2>/dev/null |
	awk '/^Samples:/ { on = 1 } on && /^ +[0-9]+ +[0-9]+: / { n++; if ($2 + 0 < 15e6 * $1) bad++ }
	     END { print n + 0, bad + 0 }')
check "--min-block 15ms: every interval is 15 ms or more (${short% *} samples, ${short#* } not)" \
	test "${short#* }" = 0 -a "${short% *}" -gt 0
check "--min-block 15ms: 20 ms naps stay" test -n "$(delay "$out" holder_nap)"
check "--min-block 15ms: the 5 ms sleeps are (nearly) all gone" \
	test "$(contentions "$out" sleep_site)" -le 5

out=$TMP/state.pb.gz
"$BPFPROF" offcpu -p "$pid" -d 1.5 -q --state disk -o "$out" 2>"$TMP/state.err"
check_rc "--state disk exits 0" $?
check "--state disk: the vfork parent's wait" test -n "$(delay "$out" vfork_site)"
check_none "--state disk: no sleeps" "$out" ' sleep_site$' -top -nodecount=1000
out=$TMP/states.pb.gz
"$BPFPROF" offcpu -p "$pid" -d 1.5 -q --state sleeping,runnable --state stopped -o "$out" \
	2>"$TMP/states.err"
check_rc "--state sleeping,runnable --state stopped exits 0" $?
check "--state sleeping,runnable --state stopped: sleeps, no disk" \
	sh -c "go tool pprof -raw '$out' 2>/dev/null | grep -q 'state:\[sleeping\]' && ! go tool pprof -raw '$out' 2>/dev/null | grep -q 'state:\[disk\]'"

# The raw_tp fallback records every interval (no sampling) with the same stacks.
out=$TMP/raw.pb.gz
BPFPROF_RAW_TP=1 "$BPFPROF" offcpu -p "$pid" -d 1.5 -q -o "$out" 2>"$TMP/rawtp.err"
check_rc "raw_tp fallback: exits 0" $?
check "raw_tp fallback: sleep_site present" test -n "$(delay "$out" sleep_site)"
check "raw_tp fallback: says it records every interval" grep -q "as --exact" "$TMP/rawtp.err"
check "raw_tp fallback: sleep_site's stacks start as with tp_btf" \
	test "$(leaves "$out" -focus=sleep_site -tagfocus=state=sleeping)" = "$(leaves "$TMP/block.pb.gz" -focus=sleep_site -tagfocus=state=sleeping)"

out=$TMP/user.pb.gz
"$BPFPROF" offcpu -p "$pid" -d 1 -q --user-only -o "$out" 2>"$TMP/user.err"
check_rc "--user-only exits 0" $?
check "--user-only: sleep_site present" test -n "$(delay "$out" sleep_site)"
check_none "--user-only: no kernel frames" "$out" ' (do_syscall_64|entry_SYSCALL_64[a-z_]*)$' -traces

# --- whole system ---
out=$TMP/all.pb.gz
"$BPFPROF" offcpu -a -d 1 -q -o "$out" 2>"$TMP/all.err"
check "offcpu -a exits 0" test $? -eq 0
check "offcpu -a: the workload's sleeps, by process label" \
	test -n "$(delay "$out" sleep_site -tagfocus=process=offcpu_sites)"
check_none "offcpu -a has no tid labels by default" "$out" 'tid:\['
stop_workload "$pid"

# --- bad options: one line, exit 2 ---
o=$TMP/x.pb.gz
expect "--min-block nonsense" 2 "invalid --min-block 'soon'" -- "$BPFPROF" offcpu -a --min-block soon -o "$o"
expect "--min-block negative" 2 "invalid --min-block '-1ms'" -- "$BPFPROF" offcpu -a --min-block -1ms -o "$o"
expect "--state unknown" 2 "invalid --state 'idle'" -- "$BPFPROF" offcpu -a --state sleeping,idle -o "$o"
expect "--state empty" 2 "invalid --state" -- "$BPFPROF" offcpu -a --state , -o "$o"
expect "--block-rate nonsense" 2 "invalid --block-rate 'often'" -- "$BPFPROF" offcpu -a --block-rate often -o "$o"
expect "--block-rate above 1s" 2 "invalid --block-rate '2s'" -- "$BPFPROF" offcpu -a --block-rate 2s -o "$o"

finish
