#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof cpu against cpu_split, whose three burners take 50/30/20% of its CPU.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "cpu: end-to-end"

# --- by pid ---
start_workload cpu_split 0 1 || exit 1
pid=$WPID
out=$TMP/pid.pb.gz
if "$BPFPROF" cpu -p "$pid" -d 3 -F 499 -o "$out" >"$TMP/pid.txt" 2>"$TMP/pid.err"; then
	pass "cpu -p exits 0"
else
	fail "cpu -p exits 0: $(cat "$TMP/pid.err")"
fi
expect_split "cpu -p" "$out"
check "cpu -p prints a top table naming burn_a" grep -q ' burn_a$' "$TMP/pid.txt"
check "cpu -p prints the path it wrote" grep -q "wrote $out" "$TMP/pid.txt"
"$BPFPROF" report --folded -s samples "$out" >"$TMP/folded" 2>"$TMP/folded.err"
check_rc "report --folded exits 0" $?
check "report --folded: root-first stacks, worker;burn_a among them" \
	grep -qE '^_start;.*;main;worker;burn_a [0-9]+$' "$TMP/folded"
total=$(go tool pprof -top -sample_index=samples "$out" 2>/dev/null | sed -n 's/.* of \([0-9]*\) total$/\1/p')
check "report --folded: the stacks add up to go tool pprof's total (${total:-none})" \
	test -n "$total" -a "$(awk '{ s += $NF } END { print s }' "$TMP/folded")" = "$total"

# The file is valid for go tool pprof: -raw without warnings, Go's CPU names.
go tool pprof -raw "$out" >"$TMP/raw.txt" 2>"$TMP/raw.err"
check "go tool pprof -raw reads it" test $? -eq 0
check "go tool pprof -raw prints no warning" test ! -s "$TMP/raw.err"
check "sample types are Go's samples/count cpu/nanoseconds" \
	grep -q '^PeriodType: cpu nanoseconds' "$TMP/raw.txt"
check "sample value names" grep -qE '^ *samples/count cpu/nanoseconds' "$TMP/raw.txt"
check "period is 1e9/F ns" grep -q '^Period: 2004008$' "$TMP/raw.txt"
check "samples carry pid, tid, comm and process labels" \
	grep -qE "pid:\[$pid\].*tid:\[$pid\]|tid:\[$pid\].*pid:\[$pid\]" "$TMP/raw.txt"
check "comm label" grep -q 'comm:\[cpu_split\]' "$TMP/raw.txt"
check "process label" grep -q 'process:\[cpu_split\]' "$TMP/raw.txt"
check "mapping names the binary with its build id" \
	grep -qE "cpu_split.*[0-9a-f]{40}" "$TMP/raw.txt"
check "full stack: burn_a <- worker <- main" \
	sh -c "go tool pprof -traces '$out' 2>/dev/null | grep -A2 -E '^ +[0-9.]+[a-z]*s +burn_a$' | tr -s ' \n' ' ' | grep -q 'burn_a worker main'"
line=$(grep -n '^BURNER(burn_a)' tests/workloads/cpu_split.c | cut -d: -f1)
check "file:line of burn_a (cpu_split.c:$line)" \
	sh -c "go tool pprof -top -lines '$out' 2>/dev/null | grep -q 'burn_a tests/workloads/cpu_split.c:$line\$'"
call=$(grep -n 'x = burn_a(' tests/workloads/cpu_split.c | cut -d: -f1)
check "caller's line is the call site (cpu_split.c:$call)" \
	sh -c "go tool pprof -traces -lines '$out' 2>/dev/null | grep -q 'worker tests/workloads/cpu_split.c:$call\$'"
check "tagfocus on the process label keeps the samples" \
	sh -c "go tool pprof -top -tagfocus=process=cpu_split '$out' 2>/dev/null | grep -q ' burn_a$'"
check "bpfprof report reads its own file" sh -c "'$BPFPROF' report '$out' | grep -q ' burn_a$'"
stop_workload "$pid"

# --- threads: every thread is sampled, named by its comm ---
start_workload cpu_split 0 2 || exit 1
pid=$WPID
"$BPFPROF" cpu -p "$pid" -d 2 -q -o "$TMP/thr.pb.gz"
check_rc "cpu -p of a process with two threads exits 0" $?
check "second thread labelled by its name" \
	sh -c "go tool pprof -raw '$TMP/thr.pb.gz' 2>/dev/null | grep -q 'comm:\[burner-1\]'"
stop_workload "$pid"

# --- launched with -- ---
out=$TMP/cmd.pb.gz
"$BPFPROF" cpu -F 499 -o "$out" -q -- "$WORKLOADS/cpu_split" 3 >/dev/null 2>"$TMP/cmd.err"
check "cpu -- CMD exits 0 when the command ends" test $? -eq 0
expect_split "cpu -- CMD" "$out"

# --- whole system ---
start_workload cpu_split 0 1 || exit 1
pid=$WPID
out=$TMP/all.pb.gz
"$BPFPROF" cpu -a -d 3 -F 499 -q -o "$out" 2>"$TMP/all.err"
check "cpu -a exits 0" test $? -eq 0
expect_split "cpu -a (process=cpu_split)" "$out" -tagfocus=process=cpu_split
check_none "cpu -a has no tid labels by default" "$out" 'tid:\['
stop_workload "$pid"

# --- cgroup v2 ---
cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$cg_root" ] && mkdir "$cg_root/bpfprof-test.$$" 2>/dev/null; then
	cg=$cg_root/bpfprof-test.$$
	start_workload cpu_split 0 1 || exit 1
	pid=$WPID
	echo "$pid" >"$cg/cgroup.procs"
	out=$TMP/cg.pb.gz
	"$BPFPROF" cpu --cgroup "$cg" -d 3 -F 499 -q -o "$out" 2>"$TMP/cg.err"
	check "cpu --cgroup exits 0" test $? -eq 0
	expect_split "cpu --cgroup" "$out"
	stop_workload "$pid"
	rmdir "$cg"
else
	fail "cpu --cgroup: cannot create a cgroup v2 directory for the test"
fi

# --- a workload that exits mid-capture is still symbolized ---
start_workload cpu_split 2 1 || exit 1
pid=$WPID
out=$TMP/exit.pb.gz
"$BPFPROF" cpu -p "$pid" -d 5 -q -o "$out" 2>"$TMP/exit.err"
check "target exiting mid-capture: exit 0" test $? -eq 0
check "target exiting mid-capture: still symbolized" \
	sh -c "go tool pprof -top '$out' 2>/dev/null | grep -q ' burn_a$'"
wait "$pid" 2>/dev/null

finish
