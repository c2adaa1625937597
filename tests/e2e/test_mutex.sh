#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof mutex against mutex_sites, whose threads contend for a hot lock, a
# cold lock, an rwlock and a condition variable from known functions and
# count their own contentions: counts and delays must match (±10%), the
# waiter view must name the waiting functions and the holder view the
# releasing ones.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "mutex: end-to-end"

# contentions FILE FUNCTION [PPROF_FLAGS...]: cum contentions under FUNCTION (0 when absent).
contentions() {
	local file=$1 fn=$2
	shift 2
	go tool pprof -top -nodecount=1000 -sample_index=contentions "$@" "$file" 2>/dev/null |
		awk -v fn="$fn" '$6 == fn && !v { v = $4 } END { print v + 0 }'
}

# per_lock FILE: "address contentions delay_ms" per lock label, most delay first.
per_lock() {
	go tool pprof -raw "$1" 2>/dev/null | awk '
		/^Samples:/ { on = 1; next }
		/^Locations/ { on = 0 }
		on && /^ +[0-9]+ +[0-9]+: / { n = $1; d = $2; next }
		on && /lock:\[/ { l = $0; sub(/.*lock:\[/, "", l); sub(/\].*/, "", l); c[l] += n; t[l] += d }
		END { for (l in c) printf "%s %d %.2f\n", l, c[l], t[l] / 1e6 }' | sort -k3,3 -g -r
}

# measured RESULT SITE...: the workload's "contentions ms" summed over SITEs.
measured() {
	local res=$1
	shift
	awk -v s=" $* " 'index(s, " " $1 " ") && NF == 3 { n += $2; t += $3 }
		END { printf "%d %.2f\n", n, t / 1e6 }' "$res"
}

# lock_addr RESULT NAME: the address of a lock as the workload printed it.
lock_addr() {
	awk -v n="$2" '$1 == "lock" && $2 == n { print $3 }' "$1"
}

# near NAME GOT WANT [WHAT]: GOT within 10% of WANT, a count the workload made.
near() { near_10pct "$1" "$2" "$3" "${4:-workload counted}" ""; }

# in_object RESULT NAME SIZE: contentions of the locks at [address of NAME, + SIZE).
in_object() {
	local base n sum=0 addr count rest
	base=$(($(lock_addr "$1" "$2")))
	n=$3
	while read -r addr count rest; do
		if [ $((addr)) -ge "$base" ] && [ $((addr)) -lt $((base + n)) ]; then
			sum=$((sum + count))
		fi
	done <"$TMP/locks"
	echo "$sum"
}

# --- waiter view, launched with -- ---
res=$TMP/waiter.res
out=$TMP/waiter.pb.gz
if "$BPFPROF" mutex -o "$out" -- "$WORKLOADS/mutex_sites" 3 "$res" >"$TMP/waiter.txt" \
	2>"$TMP/waiter.err"; then
	pass "mutex -- CMD exits 0"
else
	fail "mutex -- CMD exits 0: $(cat "$TMP/waiter.err")"
fi
hot=$(lock_addr "$res" hot)
cold=$(lock_addr "$res" cold)
per_lock "$out" >"$TMP/locks"
check "the hot lock ($hot) has the most delay of all locks ($(head -n1 "$TMP/locks"))" \
	test "$(awk 'NR == 1 { print $1 }' "$TMP/locks")" = "$hot"
check "the hot lock has at least 1.3 times the delay of the next one" \
	awk 'NR == 1 { h = $3 } NR == 2 { n = $3 } END { exit !(h > 0 && h >= 1.3 * n) }' "$TMP/locks"
check "the cold lock ($cold) has under a tenth of the hot lock's delay" awk -v h="$hot" \
	-v c="$cold" '$1 == h { hv = $3 } $1 == c { cv = $3 } END { exit !(hv > 0 && cv < 0.1 * hv) }' \
	"$TMP/locks"
want=$(measured "$res" hot_a hot_b hot_c)
near "hot lock contentions" "$(awk -v h="$hot" '$1 == h { print $2 }' "$TMP/locks")" "${want% *}"
for s in a b c; do
	want=$(measured "$res" "hot_$s")
	near "acquire_hot_$s delay (ms)" "$(delay "$out" "acquire_hot_$s")" "${want#* }" \
		"workload measured"
	near "acquire_hot_$s contentions" "$(contentions "$out" "acquire_hot_$s")" "${want% *}"
done
check "waits on the hot lock are at counted_lock <- acquire_hot_a <- hot_thread" \
	trace_has "$out" "__lll_lock_wait .*pthread_mutex_lock .*counted_lock acquire_hot_a hot_thread" \
	-tagfocus=comm=hot-a
want=$(measured "$res" rw_read1 rw_read2)
near "rwlock readers' delay at rw_read_site (ms)" "$(delay "$out" rw_read_site)" "${want#* }" \
	"workload measured"
check "rwlock stacks: pthread_rwlock_rdlock <- rw_read_site <- rw_reader" \
	trace_has "$out" "pthread_rwlock_rdlock .*rw_read_site rw_reader"
check "rwlock stacks: pthread_rwlock_wrlock <- rw_write_site <- rw_writer" \
	trace_has "$out" "pthread_rwlock_wrlock .*rw_write_site rw_writer"
want=$(measured "$res" cond_wait)
near "condition wait delay at cond_wait_site (ms)" "$(delay "$out" cond_wait_site)" \
	"${want#* }" "workload measured"
# The condition's own futex words are inside the pthread_cond_t (glibc: __g_signals).
near "condition waits: contentions on the pthread_cond_t's futex words" \
	"$(in_object "$res" cond 48)" "${want% *}"
check "condition stacks: pthread_cond_wait <- cond_wait_site <- cond_waiter" \
	trace_has "$out" "pthread_cond_wait .*cond_wait_site cond_waiter"
want=$(measured "$res" pi_a pi_b)
near "PI mutex (FUTEX_LOCK_PI) contentions" \
	"$(awk -v l="$(lock_addr "$res" pi)" '$1 == l { print $2 }' "$TMP/locks")" "${want% *}"
check "PI mutex stacks: __futex_lock_pi64 <- acquire_pi <- pi_thread" \
	trace_has "$out" "__futex_lock_pi64 .*acquire_pi pi_thread"
# futex2 calls (Wine's kind), when the kernel has them.
want=$(measured "$res" waitv)
futex2=$([ "${want% *}" -gt 0 ] && echo 1)
if [ -n "$futex2" ]; then
	near "futex_waitv: contentions at the word that woke it" \
		"$(awk -v l="$(lock_addr "$res" fx_b)" '$1 == l { print $2 }' "$TMP/locks")" "${want% *}"
	near "futex_waitv delay at waitv_site (ms)" "$(delay "$out" waitv_site)" "${want#* }" \
		"workload measured"
	want=$(measured "$res" futex2_wait)
	near "futex2 futex_wait contentions" \
		"$(awk -v l="$(lock_addr "$res" fx_c)" '$1 == l { print $2 }' "$TMP/locks")" "${want% *}"
else
	echo "  skip futex_waitv and futex_wait: this kernel has neither"
fi
check "the top table's first row is the caller of pthread_mutex_lock (counted_lock)" \
	sh -c "grep -A1 -E '^ +flat +flat%' '$TMP/waiter.txt' | tail -n1 | grep -qE ' counted_lock\$'"
check "mutex prints the path it wrote" grep -q "wrote $out" "$TMP/waiter.txt"

check_raw_contentions "$out" mutex
check "lock, comm and process labels" \
	sh -c "grep -q 'lock:\[$hot\]' '$TMP/raw.txt' && grep -q 'comm:\[hot-a\]' '$TMP/raw.txt' && grep -q 'process:\[mutex_sites\]' '$TMP/raw.txt'"
check "pid and tid labels" grep -qE 'pid:\[[0-9]+\] tid:\[[0-9]+\]' "$TMP/raw.txt"

# --- holder view: the waits go to whoever released the lock ---
res=$TMP/holder.res
out=$TMP/holder.pb.gz
"$BPFPROF" mutex --by holder -q -o "$out" -- "$WORKLOADS/mutex_sites" 3 "$res" \
	>"$TMP/holder.txt" 2>"$TMP/holder.err"
check "mutex --by holder exits 0" test $? -eq 0
hot=$(lock_addr "$res" hot)
per_lock "$out" >"$TMP/hlocks"
want=$(measured "$res" hot_a hot_b hot_c)
near "holder view: hot lock contentions" \
	"$(awk -v h="$hot" '$1 == h { print $2 }' "$TMP/hlocks")" "${want% *}"
released=$(awk -v a="$(delay "$out" release_hot_a)" -v b="$(delay "$out" release_hot_b)" \
	-v c="$(delay "$out" release_hot_c)" 'BEGIN { print a + b + c }')
near "holder view: hot lock delay at release_hot_a/b/c (ms)" "$released" "${want#* }" \
	"workload's waiters measured"
check_decoded "holder view: no delay at the acquiring functions" "$out" \
	test -z "$(delay "$out" acquire_hot_a)$(delay "$out" acquire_hot_b)"
check "holder view: release_hot_b <- hot_thread, by thread hot-b" \
	trace_has "$out" "__lll_lock_wake .*unlock release_hot_b hot_thread" -tagfocus=comm=hot-b
near "holder view: the cold lock's waiter waited for hog_release (ms)" \
	"$(delay "$out" hog_release)" "$(measured "$res" cold_wait | cut -d' ' -f2)" \
	"cold-wait measured"
near "holder view: condition waits ended by cond_signal_site (ms)" \
	"$(delay "$out" cond_signal_site)" "$(measured "$res" cond_wait | cut -d' ' -f2)" \
	"cond-wait measured"
check "holder view: rwlock readers woken by rw_write_release" \
	test -n "$(delay "$out" rw_write_release)"
near "holder view: PI mutex (FUTEX_UNLOCK_PI) delay at release_pi (ms)" \
	"$(delay "$out" release_pi)" "$(measured "$res" pi_a pi_b | cut -d' ' -f2)" \
	"pi-a and pi-b measured"
if [ -n "$futex2" ]; then
	near "holder view: futex_waitv waits ended at wake_waitv_site (ms)" \
		"$(delay "$out" wake_waitv_site)" "$(measured "$res" waitv | cut -d' ' -f2)" \
		"fx-wait measured"
	near "holder view: futex_wait waits ended at futex2_wake_site (futex_wake) (ms)" \
		"$(delay "$out" futex2_wake_site)" "$(measured "$res" futex2_wait | cut -d' ' -f2)" \
		"fx-wait measured"
fi

# --- by pid: --lock, the raw_syscalls fallback, -a ---
# Long enough for every capture below on a loaded host (it is killed at the end).
start_workload mutex_sites 300 "$TMP/pid.res" || exit 1
pid=$WPID
hot=$(awk '$1 == "lock" && $2 == "hot" { print $3 }' "$TMP/mutex_sites".*.out)
out=$TMP/lock.pb.gz
"$BPFPROF" mutex -p "$pid" -d 1.5 -q --lock "$hot" -o "$out" 2>"$TMP/lock.err"
check "mutex -p --lock exits 0" test $? -eq 0
check "--lock $hot: that lock only ($(per_lock "$out" | cut -d' ' -f1 | tr '\n' ' '))" \
	test -n "$hot" -a "$(per_lock "$out" | cut -d' ' -f1 | sort -u)" = "$hot"
check "--lock: acquire_hot_c there, cond_wait_site not" \
	test -n "$(delay "$out" acquire_hot_c)" -a -z "$(delay "$out" cond_wait_site)"
out=$TMP/lockh.pb.gz
"$BPFPROF" mutex -p "$pid" -d 1.5 -q --by holder --lock "${hot#0x}" -o "$out" 2>"$TMP/lockh.err"
check_rc "mutex -p --by holder --lock exits 0" $?
check "--by holder --lock (hex without 0x): release_hot_a there, cond_signal_site not" \
	test -n "$(delay "$out" release_hot_a)" -a -z "$(delay "$out" cond_signal_site)"

out=$TMP/raw.pb.gz
"$BPFPROF" mutex -p "$pid" -d 0.5 -v -o "$out" >/dev/null 2>"$TMP/sc.err"
check_rc "mutex -p -v exits 0" $?
check "syscalls:sys_enter_futex tracepoints by default" \
	grep -q "through the syscalls:sys_{enter,exit}_futex" "$TMP/sc.err"
# A fresh machine may not have tracefs mounted: bpfprof mounts it (here in a
# mount namespace of its own, so the test leaves the host's mounts alone).
unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null
	! test -e /sys/kernel/tracing/events || exit 9
	exec "$0" mutex -p "$1" -d 0.5 -v -o "$2"' "$BPFPROF" "$pid" "$out" >/dev/null 2>"$TMP/nofs.err"
check_rc "tracefs not mounted: exits 0" $?
check "tracefs not mounted: mounted, then the syscalls tracepoints" \
	grep -q "through the syscalls:sys_{enter,exit}_futex" "$TMP/nofs.err"
BPFPROF_RAW_SYSCALLS=1 "$BPFPROF" mutex -p "$pid" -d 1.5 -v -o "$out" >/dev/null \
	2>"$TMP/rawsc.err"
check_rc "BPFPROF_RAW_SYSCALLS=1: exits 0" $?
check "BPFPROF_RAW_SYSCALLS=1: raw_syscalls sys_enter/sys_exit" \
	grep -q "through raw_syscalls sys_enter/sys_exit" "$TMP/rawsc.err"
check "raw_syscalls fallback: acquire_hot_a and cond_wait_site" \
	test -n "$(delay "$out" acquire_hot_a)" -a -n "$(delay "$out" cond_wait_site)"
[ -z "$futex2" ] ||
	check "raw_syscalls fallback: futex_waitv and futex_wait (syscalls 449, 455)" \
		test -n "$(delay "$out" waitv_site)" -a -n "$(delay "$out" futex2_wait_site)"
out=$TMP/rawtp.pb.gz
BPFPROF_RAW_SYSCALLS=1 BPFPROF_RAW_TP=1 "$BPFPROF" mutex -p "$pid" -d 1.5 -q --by holder \
	-o "$out" 2>"$TMP/rawtp.err"
check_rc "BPFPROF_RAW_SYSCALLS=1 BPFPROF_RAW_TP=1: exits 0" $?
check "raw_syscalls and raw_tp fallback, holder view: release_hot_b and hog_release" \
	test -n "$(delay "$out" release_hot_b)" -a -n "$(delay "$out" hog_release)"

out=$TMP/all.pb.gz
"$BPFPROF" mutex -a -d 1 -q -o "$out" 2>"$TMP/all.err"
check "mutex -a exits 0" test $? -eq 0
check "mutex -a: the workload's hot lock waits, by process label" \
	test -n "$(delay "$out" acquire_hot_b -tagfocus=process=mutex_sites)"
check_none "mutex -a has no tid labels by default" "$out" 'tid:\['
stop_workload "$pid"

# --- bad options: one line, exit 2 ---
o=$TMP/x.pb.gz
expect "--by nonsense" 2 "invalid --by 'owner'" -- "$BPFPROF" mutex -a --by owner -o "$o"
expect "--lock not hex" 2 "invalid --lock 'lock1'" -- "$BPFPROF" mutex -a --lock lock1 -o "$o"
expect "--lock 0" 2 "invalid --lock '0x0'" -- "$BPFPROF" mutex -a --lock 0x0 -o "$o"
expect "--lock empty" 2 "invalid --lock ''" -- "$BPFPROF" mutex -a --lock '' -o "$o"
expect "--lock too big" 2 "invalid --lock" -- "$BPFPROF" mutex -a --lock 0x1ffffffffffffffff -o "$o"

finish
