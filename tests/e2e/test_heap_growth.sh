#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof heap --mode growth against heap_growth, which grows its anonymous
# memory by known amounts from known functions.
#
# Tolerances: mmap and mremap growth is exact (the lengths are whole pages)
# and so are their faults (one write per page, huge pages off): ±2%, which
# leaves room for the rare fault dropped when the VMA lookup finds the mmap
# lock busy (counted and reported).  malloc's growth is coarser: the first
# chunks come from what is left of the heap's top (up to 128 KiB + a page),
# and each brk or mprotect step asks for 128 KiB (M_TOP_PAD) more than it
# needs, so the last one overshoots by up to 132 KiB: ±512 KiB of 32 or
# 16 MiB (1.6%, 3.1%) covers both with room.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "heap --mode growth: end-to-end"

MIB=1048576
PAGE=$(getconf PAGESIZE)

# cum FILE FUNCTION SAMPLE_INDEX [PPROF_FLAGS...]: FUNCTION's cum value (bytes or
# count), 0 when absent.
cum() {
	local file=$1 fn=$2 si=$3
	shift 3
	go tool pprof -top -nodecount=1000 -sample_index="$si" -unit=B "$@" "$file" 2>/dev/null |
		awk -v fn="$fn" '$6 == fn && !v { v = $4; sub(/B$/, "", v) } END { print v + 0 }'
}

# near NAME GOT WANT TOLERANCE: |GOT - WANT| <= TOLERANCE (same unit).
near() {
	if within "$2" "$3" "$4"; then
		pass "$1: $2, want $3 ±$4"
	else
		fail "$1: $2, want $3 ±$4"
	fi
}

pct2() { awk -v w="$1" 'BEGIN { printf "%d", w * 0.02 }'; }

# --- launched with --: known amounts, once ---
out=$TMP/once.pb.gz
if "$BPFPROF" heap --mode growth -o "$out" -- "$WORKLOADS/heap_growth" once \
	>"$TMP/once.txt" 2>"$TMP/once.err"; then
	pass "heap --mode growth -- CMD exits 0"
else
	fail "heap --mode growth -- CMD exits 0: $(cat "$TMP/once.err")"
fi
want=$((64 * MIB))
near "grow_mmap faulted_space (mmap 64 MiB, every page written)" \
	"$(cum "$out" grow_mmap faulted_space)" $want "$(pct2 $want)"
near "grow_mmap grown_space" "$(cum "$out" grow_mmap grown_space)" $want "$(pct2 $want)"
near "grow_mmap faults (64 MiB / $PAGE)" "$(cum "$out" grow_mmap faults)" $((want / PAGE)) \
	"$(pct2 $((want / PAGE)))"
want=$((12 * MIB))
near "grow_mremap faulted_space (4 MiB mmap, mremap to 12 MiB)" \
	"$(cum "$out" grow_mremap faulted_space)" $want "$(pct2 $want)"
near "grow_mremap grown_space" "$(cum "$out" grow_mremap grown_space)" $want "$(pct2 $want)"
near "mremap's own growth (8 MiB)" "$(cum "$out" grow_mremap grown_space -focus='^__?mremap$')" \
	$((8 * MIB)) "$(pct2 $((8 * MIB)))"
want=$((32 * MIB))
near "grow_brk grown_space (malloc 32 MiB in 1 KiB chunks: brk)" \
	"$(cum "$out" grow_brk grown_space)" $want 524288
near "grow_brk faulted_space" "$(cum "$out" grow_brk faulted_space)" $want 524288
check "grow_brk's growth is at main <- once <- grow_brk <- malloc <- sysmalloc <- brk" \
	trace_has "$out" "__brk .*sysmalloc .*malloc alloc_chunks grow_brk once main" \
	-sample_index=grown_space
want=$((16 * MIB))
near "arena_thread grown_space (16 MiB in a thread arena: mprotect)" \
	"$(cum "$out" arena_thread grown_space)" $want 524288
near "arena_thread faulted_space" "$(cum "$out" arena_thread faulted_space)" $want 524288
check "the thread arena grows by mprotect: __mprotect <- grow_heap <- sysmalloc ... arena_thread" \
	trace_has "$out" "__mprotect grow_heap sysmalloc .*alloc_chunks arena_thread" \
	-sample_index=grown_space
near "scratch_unmap released_space (munmap 8 MiB)" \
	"$(cum "$out" scratch_unmap released_space)" $((8 * MIB)) 0
near "scratch_map grown_space" "$(cum "$out" scratch_map grown_space)" $((8 * MIB)) 0
check_decoded "nothing released at the growing functions" "$out" \
	test "$(cum "$out" grow_mmap released_space)" = 0 -a "$(cum "$out" grow_brk released_space)" = 0
check "the top table is faulted_space, led by touch" \
	sh -c "grep -A1 -E '^ +flat +flat%' '$TMP/once.txt' | tail -n1 | grep -qE ' touch\$'"
check "heap prints the path it wrote" grep -q "wrote $out (.* anonymous page faults" "$TMP/once.txt"

go tool pprof -raw "$out" >"$TMP/raw.txt" 2>"$TMP/raw.err"
check "go tool pprof -raw reads it" test $? -eq 0
check "go tool pprof -raw prints no warning" test ! -s "$TMP/raw.err"
check "sample types faults/count faulted_space/bytes grown_space/bytes released_space/bytes" \
	grep -qE '^ *faults/count faulted_space/bytes(\[dflt\])? grown_space/bytes released_space/bytes' \
	"$TMP/raw.txt"
check "period type space/bytes, period one page" \
	sh -c "grep -q '^PeriodType: space bytes' '$TMP/raw.txt' && grep -q '^Period: $PAGE\$' '$TMP/raw.txt'"
check "go tool pprof shows faulted_space by default" \
	sh -c "go tool pprof -top '$out' 2>/dev/null | grep -q '^Type: faulted_space'"
check "pid, comm and process labels, no tid" \
	sh -c "grep -qE 'pid:\[[0-9]+\]' '$TMP/raw.txt' && grep -q 'comm:\[arena\]' '$TMP/raw.txt' &&
		grep -q 'process:\[heap_growth\]' '$TMP/raw.txt' && ! grep -q 'tid:\[' '$TMP/raw.txt'"

# --- one fault in 16: the scaled bytes stay right ---
out=$TMP/every.pb.gz
"$BPFPROF" heap --mode growth --fault-every 16 -q -o "$out" -- "$WORKLOADS/heap_growth" once \
	>/dev/null 2>"$TMP/every.err"
check "--fault-every 16 exits 0" test $? -eq 0
want=$((64 * MIB))
near "--fault-every 16: grow_mmap faulted_space" "$(cum "$out" grow_mmap faulted_space)" $want \
	"$(pct2 $want)"
near "--fault-every 16: grow_mmap grown_space (syscalls are not sampled)" \
	"$(cum "$out" grow_mmap grown_space)" $want 0
check "--fault-every 16: period 16 pages" \
	sh -c "go tool pprof -raw '$out' 2>/dev/null | grep -q '^Period: $((16 * PAGE))\$'"

# --- syscalls drawn by size (the agent's growth): estimates stay unbiased ---
"$BPFPROF" heap --mode growth --syscall-rate 512k -q -o "$out" -- "$WORKLOADS/heap_growth" once \
	>/dev/null 2>"$TMP/sysrate.err"
check "--syscall-rate 512k exits 0" test $? -eq 0
want=$((64 * MIB))
near "--syscall-rate 512k: grow_mmap grown_space (one call above the rate: exact)" \
	"$(cum "$out" grow_mmap grown_space)" $want 0
# malloc grows the break ~250 times by ~132 KiB: each drawn with p ~ 1/4 and
# counted as 512 KiB, one standard deviation ~11%; 40% is 3.6 of them.
want=$((32 * MIB))
near "--syscall-rate 512k: grow_brk grown_space (small calls drawn, weighted)" \
	"$(cum "$out" grow_brk grown_space)" $want $((want * 40 / 100))

# --- by pid, with snapshots: a loop that grows and releases ---
start_workload heap_growth loop 60 || exit 1
pid=$WPID
base=$TMP/snap
"$BPFPROF" heap --mode growth -p "$pid" -d 2.5 --interval 1 -o "$base.pb.gz" \
	>"$TMP/snap.txt" 2>"$TMP/snap.err"
check "-p --interval exits 0" test $? -eq 0
check "--interval 1 -d 2.5 writes snap.0001, 0002 and the final 0003" \
	test -s "$base.0001.pb.gz" -a -s "$base.0002.pb.gz" -a -s "$base.0003.pb.gz" \
	-a ! -e "$base.0004.pb.gz"
check "each snapshot is announced" sh -c "grep -q 'wrote $base.0001.pb.gz (snapshot at' '$TMP/snap.txt'"
g1=$(cum "$base.0001.pb.gz" grow_mmap grown_space)
g3=$(cum "$base.0003.pb.gz" grow_mmap grown_space)
check "snapshots are cumulative: grow_mmap grown_space $g1 then $g3" \
	awk -v a="$g1" -v b="$g3" 'BEGIN { exit !(a > 0 && b > a) }'
out=$base.0003.pb.gz
g=$(cum "$out" grow_mmap grown_space)
r=$(cum "$out" release_mmap released_space)
# A round of heap_growth's loop is one grow_mmap of 8 MiB and its munmap.
# The syscall tracepoints attach one after the other, and the capture ends
# between two calls: one round at the start and one at the end can each be
# seen on one side only (a munmap without its mmap, or the other way), so
# the two sides may differ by two rounds (seen: 16 MiB under load).
near "-p: release_mmap released what grow_mmap grew, within two rounds (16 MiB)" "$r" "$g" \
	$((16 * MIB))
check "-p: release_brk gives the heap back with brk (released_space $(cum "$out" release_brk \
	released_space))" test "$(cum "$out" release_brk released_space)" -gt 0
check "-p: the heap's release is at free <- release_brk (trim by brk)" \
	trace_has "$out" "__brk .*free.* release_brk loop main" -sample_index=released_space
check "-p: grow_brk grows the heap again each round (faulted_space)" \
	test "$(cum "$out" grow_brk faulted_space)" -gt $((4 * MIB))

# --- the raw_syscalls and raw_tp fallbacks ---
out=$TMP/rawsc.pb.gz
BPFPROF_RAW_SYSCALLS=1 "$BPFPROF" heap --mode growth -p "$pid" -d 1 -v -o "$out" \
	>/dev/null 2>"$TMP/rawsc.err"
check_rc "BPFPROF_RAW_SYSCALLS=1: exits 0" $?
check "BPFPROF_RAW_SYSCALLS=1: raw_syscalls sys_enter/sys_exit" \
	grep -q "through raw_syscalls sys_enter/sys_exit" "$TMP/rawsc.err"
check "raw_syscalls fallback: grow_brk grown_space and release_mmap released_space" \
	test "$(cum "$out" grow_brk grown_space)" -gt 0 -a \
	"$(cum "$out" release_mmap released_space)" -gt 0
out=$TMP/rawtp.pb.gz
BPFPROF_RAW_SYSCALLS=1 BPFPROF_RAW_TP=1 "$BPFPROF" heap --mode growth -p "$pid" -d 1 -q \
	-o "$out" 2>"$TMP/rawtp.err"
check_rc "BPFPROF_RAW_SYSCALLS=1 BPFPROF_RAW_TP=1: exits 0" $?
check "raw_tp fallback: grow_mmap faulted_space and grown_space" \
	test "$(cum "$out" grow_mmap faulted_space)" -gt 0 -a \
	"$(cum "$out" grow_mmap grown_space)" -gt 0

# --- the whole system ---
out=$TMP/all.pb.gz
"$BPFPROF" heap --mode growth -a -d 1 -q -o "$out" 2>"$TMP/all.err"
check "heap --mode growth -a exits 0" test $? -eq 0
check "-a: the workload's grow_mmap, by process label" \
	test "$(cum "$out" grow_mmap faulted_space -tagfocus=process=heap_growth)" -gt 0
stop_workload "$pid"

# --- bad options: one line, exit 2 ---
o=$TMP/x.pb.gz
expect "--fault-every 0" 2 "invalid --fault-every '0'" -- \
	"$BPFPROF" heap --mode growth -a --fault-every 0 -o "$o"
expect "--syscall-rate 0" 2 "invalid --syscall-rate '0'" -- \
	"$BPFPROF" heap --mode growth -a --syscall-rate 0 -o "$o"
expect "--rate with --mode growth" 2 "need --mode alloc" -- \
	"$BPFPROF" heap --mode growth -a --rate 4096 -o "$o"

finish
