#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Full user stacks through code without frame pointers: DWARF CFI unwinding
# against nofp_chain (-O2 -fomit-frame-pointer, PIE), through Debian's glibc
# (qsort calling back), and into a library dlopen'ed mid-capture.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "unwind: end-to-end"

# complete FILE LEAF FN...: for the samples holding LEAF, the share that
# also hold FN, the least over the FNs given (in percent).
complete() {
	local file=$1 leaf=$2
	shift 2
	go tool pprof -top -nodecount=1000 -focus="^$leaf\$" "$file" 2>/dev/null |
		awk -v leaf="$leaf" -v fns="$*" '
		BEGIN { n = split(fns, want, " ") }
		{ sub("%", "", $5); cum[$6] = $5 }
		END {
			if (!cum[leaf]) { print 0; exit }
			min = 100
			for (i = 1; i <= n; i++) { r = 100 * cum[want[i]] / cum[leaf]; if (r < min) min = r }
			printf "%.1f\n", min
		}'
}

# expect_complete MESSAGE MIN FILE LEAF FN...: at least MIN% of LEAF's samples
# hold every FN; MESSAGE has a %s for the share found.
expect_complete() {
	local msg=$1 min=$2 got
	shift 2
	got=$(complete "$@")
	if awk -v g="$got" -v m="$min" 'BEGIN { exit !(g != "" && g >= m) }'; then
		pass "$(printf -- "$msg" "$got") (want >= $min)"
	else
		fail "$(printf -- "$msg" "$got") (want >= $min)"
	fi
}

# The chain tests below run a PIE: tables are placed by each mapping's load bias.
need "nofp_chain is a position-independent executable" \
	sh -c "readelf -h '$WORKLOADS/nofp_chain' | grep -q 'Type:.*DYN'"

chain="chain8 chain7 chain6 chain5 chain4 chain3 chain2 chain1 run_chain main"

out=$TMP/chain-dwarf.pb.gz
"$BPFPROF" cpu -F 499 -q -o "$out" --unwind dwarf -- "$WORKLOADS/nofp_chain" 3 chain 2>"$TMP/err"
check "chain, --unwind dwarf: exit 0" test $? -eq 0
expect_complete "chain, --unwind dwarf: %s%% of hot_leaf samples reach main through all 8 links" 95 "$out" hot_leaf $chain

# A short launched command: its first samples come while the loader's
# libraries are still unread; it waits for them (stop_for_maps), so
# practically none loses its callers (without that: 96-99.7%).
out=$TMP/chain-short.pb.gz
"$BPFPROF" cpu -F 999 -q -o "$out" -- "$WORKLOADS/nofp_chain" 0.3 chain 2>/dev/null
check_rc "a 0.3 s launched command: exit 0" $?
expect_complete "a 0.3 s launched command: %s%% of hot_leaf samples reach main from its start" 99 "$out" hot_leaf $chain

out=$TMP/chain-fp.pb.gz
"$BPFPROF" cpu -F 499 -q -o "$out" --unwind fp -- "$WORKLOADS/nofp_chain" 3 chain 2>/dev/null
check_rc "chain, --unwind fp: exit 0" $?
echo "  info chain, --unwind fp: $(complete "$out" hot_leaf $chain)% of hot_leaf samples reach main (frame pointers only)"

# Frame pointers, but gcc's frameless leaf: --unwind fp takes the leaf's
# caller from CFI (before, work_outer was missing from every stack).
out=$TMP/leaf-fp.pb.gz
"$BPFPROF" cpu -F 499 -q -o "$out" --unwind fp -- "$WORKLOADS/cpu_work" 1500 1 >/dev/null 2>&1
check_rc "--unwind fp on frame-pointer code: exit 0" $?
expect_complete "--unwind fp on frame-pointer code: %s%% of work_inner samples keep their caller work_outer" 90 "$out" work_inner work_outer worker

out=$TMP/qsort.pb.gz
"$BPFPROF" cpu -F 499 -q -o "$out" -- "$WORKLOADS/nofp_chain" 3 qsort 2>/dev/null
check_rc "qsort: exit 0" $?
expect_complete "qsort through glibc (default unwinding): %s%% of comparator samples reach main" 95 "$out" cmp_inner cmp_outer run_qsort main
out=$TMP/qsort-fp.pb.gz
"$BPFPROF" cpu -F 499 -q -o "$out" --unwind fp -- "$WORKLOADS/nofp_chain" 3 qsort 2>/dev/null
check_rc "qsort, --unwind fp: exit 0" $?
echo "  info qsort, --unwind fp: $(complete "$out" cmp_inner cmp_outer run_qsort main)% of comparator samples reach main"

# A library that appears only after the capture started.
out=$TMP/dlopen.pb.gz
"$BPFPROF" cpu -F 499 -q -o "$out" -- "$WORKLOADS/nofp_chain" 4 dlopen "$PWD/$WORKLOADS/libnofp_lib.so" 2>/dev/null
check_rc "dlopen after start: exit 0" $?
expect_complete "dlopen after start: %s%% of lib_leaf samples reach main" 95 "$out" lib_leaf lib_middle lib_entry run_dlopen main

# The vdso has no file: its table comes from bpfprof's own copy of the image.
out=$TMP/vdso.pb.gz
"$BPFPROF" cpu -F 499 -q -o "$out" -- "$WORKLOADS/nofp_chain" 2 vdso 2>/dev/null
check_rc "through the vdso: exit 0" $?
# A few samples stop in libc's clock_gettime (seen: 1-4%): 90 keeps it from flaking.
expect_complete "through the vdso: %s%% of __vdso_clock_gettime samples reach main" 90 "$out" __vdso_clock_gettime run_vdso main

# By pid, the workload started before bpfprof: tables built for a running process.
start_workload nofp_chain 30 chain || exit 1
out=$TMP/pid.pb.gz
"$BPFPROF" cpu -p "$WPID" -d 2 -F 499 -q -o "$out" 2>/dev/null
check_rc "by pid: exit 0" $?
expect_complete "by pid: %s%% of hot_leaf samples reach main" 95 "$out" hot_leaf $chain
stop_workload "$WPID"

# Bounded table memory: 1 MiB (131k rows) cannot hold perl's, git's and the
# workload's tables at once; the least recently used are evicted, counted,
# and the last process still unwinds fully.
out=$TMP/evict.pb.gz
"$BPFPROF" cpu --unwind-mem 1 -F 499 -q -o "$out" -- sh -c \
	"perl -e 'for (1..2e7) {}'; head -c 300000000 /dev/zero | git hash-object --stdin >/dev/null; exec '$WORKLOADS/nofp_chain' 2 chain" \
	2>"$TMP/evict.err"
check_rc "--unwind-mem 1: exit 0" $?
check "--unwind-mem 1: evictions are reported" grep -q 'unwind tables evicted to make room' "$TMP/evict.err"
expect_complete "--unwind-mem 1: after evictions %s%% of hot_leaf samples reach main" 95 "$out" hot_leaf $chain

# Processes come and go: exited ones are never reported, so a long capture
# fills the processes map (here made to hold 8) with the dead.  It is swept
# when full, and a process started after 30 others still gets its tables.
out=$TMP/procs.pb.gz
BPFPROF_UNWIND_PROCS=8 "$BPFPROF" cpu -F 499 -q -o "$out" -- sh -c \
	"for i in \$(seq 30); do '$WORKLOADS/cpu_work' 20 1 >/dev/null; done; '$WORKLOADS/nofp_chain' 2 chain" \
	2>"$TMP/procs.err"
check_rc "a processes map of 8 after 30 processes: exit 0" $?
check "a processes map of 8 after 30 processes: none left without tables" \
	sh -c "test -e '$TMP/procs.err' && ! grep -q 'processes map was full' '$TMP/procs.err'"
expect_complete "a processes map of 8 after 30 processes: %s%% of hot_leaf samples reach main" 95 "$out" hot_leaf $chain

expect_bad() {
	"$BPFPROF" cpu -a -d 1 -o "$TMP/x.pb.gz" --unwind sideways >/dev/null 2>"$TMP/err"
	[ $? -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "invalid --unwind" "$TMP/err"
}
check "--unwind with a bad mode: one line, exit 2" expect_bad

finish
