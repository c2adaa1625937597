#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof heap (--mode alloc) against workloads that report what they keep
# and allocate: exact at --rate 1, within 25% at the default rate, C++ new,
# preloaded jemalloc, tcmalloc and mimalloc, a program with its own malloc,
# snapshots, --min-age, Ctrl-C, the overhead guard and bad input.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "heap:"
. tests/e2e/heaplib.sh

# --- --rate 1, a launched command: every allocation, exact -------------------
out=$TMP/r1.out
"$BPFPROF" heap --rate 1 -o "$TMP/r1.pb.gz" -- "$WORKLOADS/heap_sites" sites 1 >"$out" 2>"$TMP/r1.err"
check_rc "--rate 1 -- CMD exits 0" $?
check "--rate 1 writes a profile" test -s "$TMP/r1.pb.gz"
for fn in keep_small keep_large realloc_grow calloc_keep; do
	close_to "--rate 1 inuse_space $fn" "$(bytes "$TMP/r1.pb.gz" $fn inuse_space)" "$(expected "$out" $fn 2)" 2
done
close_to "--rate 1 alloc_space churn" "$(bytes "$TMP/r1.pb.gz" churn alloc_space)" "$(expected "$out" churn 3)" 2
close_to "--rate 1 alloc_space realloc_grow" "$(bytes "$TMP/r1.pb.gz" realloc_grow alloc_space)" \
	"$(expected "$out" realloc_grow 3)" 2
got=$(bytes "$TMP/r1.pb.gz" churn inuse_space)
check_decoded "--rate 1 churn frees everything (inuse ${got:-0})" "$TMP/r1.pb.gz" test "${got:-0}" -lt 8192
check "the top table names the keeping function, not malloc" \
	grep -qE '^ +[0-9.]+MB .* keep_large$' "$out"
check "default sample type is inuse_space" \
	sh -c "go tool pprof -raw '$TMP/r1.pb.gz' 2>/dev/null | grep -q 'inuse_space/bytes\\[dflt\\]'"
check "period type space/bytes, period 1" \
	sh -c "go tool pprof -raw '$TMP/r1.pb.gz' 2>/dev/null | grep -q '^PeriodType: space bytes' && go tool pprof -raw '$TMP/r1.pb.gz' 2>/dev/null | grep -q '^Period: 1$'"
check "samples carry a bytes label" \
	sh -c "go tool pprof -raw '$TMP/r1.pb.gz' 2>/dev/null | grep -q 'bytes:\\[65536\\]\\|bytes:\\[64\\]'"

# --- without session uprobes (kernels before 6.13): a return probe on every call
out=$TMP/ns.out
"$BPFPROF" heap --rate 1 --no-session -o "$TMP/ns.pb.gz" -- "$WORKLOADS/heap_sites" sites 1 >"$out" 2>/dev/null
check_rc "--no-session exits 0" $?
for fn in keep_small realloc_grow; do
	close_to "uretprobe fallback: inuse_space $fn" "$(bytes "$TMP/ns.pb.gz" $fn inuse_space)" "$(expected "$out" $fn 2)" 2
done
close_to "uretprobe fallback: alloc_space churn" "$(bytes "$TMP/ns.pb.gz" churn alloc_space)" "$(expected "$out" churn 3)" 2

# --- --rate 1 on a running process (-p), started by a flag file ----------------
out=$TMP/p.out
HEAP_SITES_GO=$TMP/go "$WORKLOADS/heap_sites" sites 1 3 >"$out" 2>&1 &
WPID=$!
E2E_PIDS+=("$WPID")
wait_line "$out" '^ready' 5
"$BPFPROF" heap -p "$WPID" --sampler uprobes --rate 1 -d 2.5 -o "$TMP/p.pb.gz" >"$TMP/p.stdout" 2>"$TMP/p.err" &
prof=$!
E2E_PIDS+=("$prof")
# The workload allocates once bpfprof has counted its calls (the slowdown line)
# and switched to recording: start-up takes 1 s or more on a loaded machine.
wait_line "$TMP/p.err" 'allocator calls/s' 10
touch "$TMP/go"
wait "$prof"
check_rc "-p --rate 1 exits 0" $?
check "-p prints the allocator and the expected slowdown" grep -q 'allocates with glibc\|(glibc) makes' "$TMP/p.err"
for fn in keep_small keep_large; do
	close_to "-p --rate 1 inuse_space $fn" "$(bytes "$TMP/p.pb.gz" $fn inuse_space)" "$(expected "$out" $fn 2)" 2
done
stop_workload "$WPID"

# --- the default rate (512 KiB): Go's unbiased estimates -----------------------
out=$TMP/d.out
# 128x: about 256 samples per function, so 25% is 4 standard deviations.
"$BPFPROF" heap -o "$TMP/d.pb.gz" -- "$WORKLOADS/heap_sites" sites 128 >"$out" 2>/dev/null
check_rc "the default rate: exits 0" $?
for fn in keep_small keep_large realloc_grow calloc_keep; do
	close_to "default rate inuse_space $fn" "$(bytes "$TMP/d.pb.gz" $fn inuse_space)" "$(expected "$out" $fn 2)" 25
done
close_to "default rate alloc_space churn" "$(bytes "$TMP/d.pb.gz" churn alloc_space)" "$(expected "$out" churn 3)" 25
check "period is the rate" sh -c "go tool pprof -raw '$TMP/d.pb.gz' 2>/dev/null | grep -q '^Period: 524288$'"

# --- C++ new/delete -----------------------------------------------------------
out=$TMP/cxx.out
"$BPFPROF" heap --rate 1 -o "$TMP/cxx.pb.gz" -- "$WORKLOADS/heap_cxx" 1 >"$out" 2>/dev/null
check_rc "C++: exits 0" $?
close_to "C++ new: make_nodes" "$(bytes "$TMP/cxx.pb.gz" 'make_nodes(long)' inuse_space)" "$(expected "$out" make_nodes 2)" 2
close_to "C++ new[]: make_buffers" "$(bytes "$TMP/cxx.pb.gz" 'make_buffers(long)' inuse_space)" "$(expected "$out" make_buffers 2)" 2
got=$(bytes "$TMP/cxx.pb.gz" 'churn_vectors(long)' alloc_space)
close_to "C++ std::vector churn allocated" "$got" $((1024 * 4096)) 2

# --- preloaded allocators -------------------------------------------------------
for lib in jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4 mimalloc:libmimalloc.so.2; do
	name=${lib%%:*}
	path=$(ls /usr/lib/x86_64-linux-gnu/"${lib#*:}" 2>/dev/null)
	if [ -z "$path" ]; then
		fail "$name: ${lib#*:} not installed (make deps)"
		continue
	fi
	out=$TMP/$name.out
	LD_PRELOAD=$path "$BPFPROF" heap --rate 1 -o "$TMP/$name.pb.gz" -- "$WORKLOADS/heap_sites" sites 1 \
		>"$out" 2>"$TMP/$name.err"
	check_rc "LD_PRELOAD $name: exits 0" $?
	check "LD_PRELOAD $name is the allocator probed" grep -q "allocates with $name" "$TMP/$name.err"
	for fn in keep_small calloc_keep; do
		close_to "$name inuse_space $fn" "$(bytes "$TMP/$name.pb.gz" $fn inuse_space)" "$(expected "$out" $fn 2)" 2
	done
done

# --- an allocator linked into the program (it defines malloc itself) ----------
out=$TMP/own.out
"$BPFPROF" heap --rate 1 -o "$TMP/own.pb.gz" -- "$WORKLOADS/heap_own_malloc" >"$out" 2>"$TMP/own.err"
check_rc "own malloc: exits 0" $?
check "the program's own malloc is the allocator probed" grep -q "allocates with malloc in heap_own_malloc" "$TMP/own.err"
close_to "own malloc inuse_space keep_blocks" "$(bytes "$TMP/own.pb.gz" keep_blocks inuse_space)" \
	"$(expected "$out" keep_blocks 2)" 2
check "the top table charges keep_blocks, not the program's malloc" \
	grep -qE '^ +[0-9.]+kB .* keep_blocks$' "$out"

# --- snapshots: --interval and SIGUSR1 ----------------------------------------
"$BPFPROF" heap --rate 1 --interval 0.5 -o "$TMP/snap" -- "$WORKLOADS/heap_sites" sites 1 1.6 \
	>"$TMP/snap.out" 2>/dev/null
check_rc "--interval 0.5: exits 0" $?
n=$(ls "$TMP"/snap.*.pb.gz 2>/dev/null | wc -l)
check "--interval 0.5 over ~2s writes numbered snapshots ($n)" test "$n" -ge 3
last=$(ls "$TMP"/snap.*.pb.gz 2>/dev/null | tail -n1)
close_to "the last snapshot holds keep_large" "$(bytes "$last" keep_large inuse_space)" \
	"$(expected "$TMP/snap.out" keep_large 2)" 2
check "pprof -base diffs two snapshots" \
	sh -c "go tool pprof -top -base '$TMP/snap.0001.pb.gz' '$last' >/dev/null 2>&1"

"$BPFPROF" heap --rate 1 -o "$TMP/usr.pb.gz" -- "$WORKLOADS/heap_sites" sites 1 2 >"$TMP/usr.out" 2>/dev/null &
BP=$!
E2E_PIDS+=("$BP")
# The workload prints what it keeps once it has allocated it, then holds it 2 s.
wait_line "$TMP/usr.out" '^calloc_keep ' 30
kill -USR1 "$BP"
wait "$BP"
check_rc "SIGUSR1: the run exits 0" $?
check "SIGUSR1 writes a numbered snapshot" test -s "$TMP/usr.0001.pb.gz"
close_to "the SIGUSR1 snapshot holds keep_large" "$(bytes "$TMP/usr.0001.pb.gz" keep_large inuse_space)" \
	"$(expected "$TMP/usr.out" keep_large 2)" 2
check "and the run still ends with its profile" test -s "$TMP/usr.pb.gz"

# --- --min-age ------------------------------------------------------------------
"$BPFPROF" heap --rate 1 --min-age 30 -o "$TMP/age.pb.gz" -- "$WORKLOADS/heap_sites" sites 1 >/dev/null 2>&1
check_rc "--min-age 30 exits 0" $?
got=$(bytes "$TMP/age.pb.gz" keep_large inuse_space)
check_decoded "--min-age 30 leaves out blocks allocated just now (keep_large ${got:-0})" \
	"$TMP/age.pb.gz" test "${got:-0}" -eq 0
got=$(bytes "$TMP/age.pb.gz" keep_large alloc_space)
check "--min-age keeps alloc_space (keep_large ${got:-0})" test "${got:-0}" -gt 4000000

# --- Ctrl-C keeps what was recorded --------------------------------------------
"$BPFPROF" heap --rate 1 -o "$TMP/int.pb.gz" -- "$WORKLOADS/heap_sites" sites 1 30 >"$TMP/int.out" 2>/dev/null &
BP=$!
E2E_PIDS+=("$BP")
wait_line "$TMP/int.out" '^calloc_keep ' 30
kill -INT "$BP"
wait "$BP"
rc=$?
check "Ctrl-C: exit 0 and the profile (rc $rc)" test "$rc" -eq 0 -a -s "$TMP/int.pb.gz"
close_to "Ctrl-C profile holds keep_large" "$(bytes "$TMP/int.pb.gz" keep_large inuse_space)" \
	"$(expected "$TMP/int.out" keep_large 2)" 2

# --- the overhead guard -----------------------------------------------------------
start_workload heap_sites storm 30 || exit 1
expect "a malloc storm is refused, naming the cheaper modes" 1 'refusing.*--mode growth.*--rate.*--force' -- \
	"$BPFPROF" heap -p "$WPID" --sampler uprobes -d 1 -o "$TMP/storm.pb.gz"
"$BPFPROF" heap -p "$WPID" --sampler uprobes -d 0.5 --force -o "$TMP/storm.pb.gz" >/dev/null 2>&1
check_rc "--force: exits 0" $?
check "--force attaches anyway: malloc_storm's allocations" \
	test -n "$(bytes "$TMP/storm.pb.gz" malloc_storm alloc_space)"
stop_workload "$WPID"

# --- bad input ----------------------------------------------------------------------
if [ -x "$WORKLOADS/goburn" ]; then
	start_workload goburn 30 "$TMP/goburn.pprof"
	expect "a Go program without cgo: no C allocator" 3 'Go program' -- \
		"$BPFPROF" heap -p "$WPID" -d 1 -o "$TMP/go.pb.gz"
	stop_workload "$WPID"
fi
expect "--rate 0" 2 'invalid --rate' -- "$BPFPROF" heap --rate 0 -p 1
expect "--rate junk" 2 'invalid --rate' -- "$BPFPROF" heap --rate 12q -p 1
expect "-a needs growth mode" 2 'need processes' -- "$BPFPROF" heap -a -d 1
expect "--mode junk" 2 'invalid --mode' -- "$BPFPROF" heap --mode leaks -p 1
expect "no such pid" 3 'no such process|pid 999999' -- "$BPFPROF" heap -p 999999 -d 1

finish
