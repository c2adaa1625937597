#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof heap --sampler inject: the in-process sampler injected into
# running processes.  Exact at --rate 1 and within 25% at the default rate
# (glibc, C++ new/delete, preloaded jemalloc, tcmalloc and mimalloc), the
# stop time printed with -v, a self-checking multi-threaded workload
# attached and detached repeatedly, bpfprof killed with SIGKILL mid-capture
# (the target runs on, the next bpfprof reuses its sampler), libraries
# dlopened after the injection (redirected before their constructors run),
# and the
# refusals: an allocator linked into the program, another tracer, bad input.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "heap --sampler inject:"
. tests/e2e/heaplib.sh

# sites NAME SCALE ARGS...: heap_sites started, bpfprof -p ARGS attached, then go.
sites() {
	local name=$1 scale=$2 prof
	shift 2
	rm -f "$TMP/go"
	HEAP_SITES_GO=$TMP/go ${PRELOAD:+env LD_PRELOAD=$PRELOAD} "$WORKLOADS/heap_sites" sites "$scale" 1 \
		>"$TMP/$name.out" 2>&1 &
	WPID=$!
	E2E_PIDS+=("$WPID")
	wait_line "$TMP/$name.out" '^ready' 5
	"$BPFPROF" heap -v -p "$WPID" --sampler inject -d 120 -o "$TMP/$name.pb.gz" "$@" \
		>"$TMP/$name.stdout" 2>"$TMP/$name.err" &
	prof=$!
	E2E_PIDS+=("$prof")
	wait_line "$TMP/$name.err" 'samples in-process|cannot' 30
	touch "$TMP/go"
	wait "$prof" # bpfprof ends when the workload does
	RC=$?
}

# --- --rate 1: every allocation, exact ----------------------------------------
sites r1 1 --rate 1
check_rc "--rate 1 -p exits 0" "$RC"
check "the sampler was injected" grep -q 'samples in-process: an injected sampler' "$TMP/r1.err"
check "-v prints how long the threads were stopped" grep -qE 'threads stopped for [0-9.]+ ms' "$TMP/r1.err"
check "no uprobe on the allocator" sh -c "! grep -q 'functions probed' '$TMP/r1.err'"
for fn in keep_small keep_large realloc_grow calloc_keep; do
	close_to "--rate 1 inuse_space $fn" "$(bytes "$TMP/r1.pb.gz" $fn inuse_space)" "$(expected "$TMP/r1.out" $fn 2)" 2
done
close_to "--rate 1 alloc_space churn" "$(bytes "$TMP/r1.pb.gz" churn alloc_space)" "$(expected "$TMP/r1.out" churn 3)" 2
got=$(bytes "$TMP/r1.pb.gz" churn inuse_space)
check_decoded "--rate 1 churn frees everything (inuse ${got:-0})" "$TMP/r1.pb.gz" test "${got:-0}" -lt 8192
check "the leaf frame is the allocator's malloc, not the sampler" \
	sh -c "go tool pprof -top -sample_index=alloc_space '$TMP/r1.pb.gz' 2>/dev/null | grep -q '__libc_malloc\$'"
check "the profile says the sampler recorded it" \
	sh -c "go tool pprof -raw '$TMP/r1.pb.gz' 2>/dev/null | grep -q 'sampled in-process'"

# --- the default rate: Go's unbiased estimates --------------------------------
sites d 128
check_rc "the default rate -p exits 0" "$RC"
for fn in keep_small keep_large realloc_grow calloc_keep; do
	close_to "default rate inuse_space $fn" "$(bytes "$TMP/d.pb.gz" $fn inuse_space)" "$(expected "$TMP/d.out" $fn 2)" 25
done
close_to "default rate alloc_space churn" "$(bytes "$TMP/d.pb.gz" churn alloc_space)" "$(expected "$TMP/d.out" churn 3)" 25

# --- C++ new/delete (libstdc++'s operator new calls malloc through its GOT) ------
rm -f "$TMP/go"
HEAP_CXX_GO=$TMP/go "$WORKLOADS/heap_cxx" 1 >"$TMP/cxx.out" 2>&1 &
WPID=$!
E2E_PIDS+=("$WPID")
wait_line "$TMP/cxx.out" '^ready' 5
"$BPFPROF" heap -v -p "$WPID" --sampler inject --rate 1 -d 60 -o "$TMP/cxx.pb.gz" >/dev/null 2>"$TMP/cxx.err" &
prof=$!
E2E_PIDS+=("$prof")
wait_line "$TMP/cxx.err" 'samples in-process|cannot' 30
touch "$TMP/go"
wait "$prof"
check_rc "C++: exits 0" $?
close_to "C++ new: make_nodes" "$(bytes "$TMP/cxx.pb.gz" 'make_nodes(long)' inuse_space)" "$(expected "$TMP/cxx.out" make_nodes 2)" 2
close_to "C++ new[]: make_buffers" "$(bytes "$TMP/cxx.pb.gz" 'make_buffers(long)' inuse_space)" "$(expected "$TMP/cxx.out" make_buffers 2)" 2
close_to "C++ std::vector churn allocated" "$(bytes "$TMP/cxx.pb.gz" 'churn_vectors(long)' alloc_space)" $((1024 * 4096)) 2

# --- preloaded allocators -------------------------------------------------------
for lib in jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4 mimalloc:libmimalloc.so.2; do
	name=${lib%%:*}
	PRELOAD=$(ls /usr/lib/x86_64-linux-gnu/"${lib#*:}" 2>/dev/null)
	if [ -z "$PRELOAD" ]; then
		fail "$name: ${lib#*:} not installed (make deps)"
		continue
	fi
	sites "$name" 1 --rate 1
	check_rc "LD_PRELOAD $name: exits 0" "$RC"
	check "LD_PRELOAD $name: its functions are the ones wrapped" grep -q "allocates with $name" "$TMP/$name.err"
	for fn in keep_small calloc_keep; do
		close_to "$name inuse_space $fn" "$(bytes "$TMP/$name.pb.gz" $fn inuse_space)" "$(expected "$TMP/$name.out" $fn 2)" 2
	done
done
PRELOAD=

# --- attached and detached repeatedly, then killed: the target runs on -----------
start_workload heap_stress 4 0 || exit 1
SPID=$WPID
SOUT=$(ls "$TMP"/heap_stress.*.out)
n=0
for i in 1 2 3; do
	"$BPFPROF" heap -p "$SPID" --sampler inject --rate 4096 -d 0.2 -o "$TMP/st.pb.gz" >/dev/null 2>&1 && n=$((n + 1))
done
check "3 attach/detach cycles on a busy multi-threaded process succeed ($n; tests/unit/test_inject.c does 200)" test "$n" -eq 3
check "and its blocks are intact" sh -c "kill -0 $SPID && ! grep -q CORRUPT '$SOUT'"
"$BPFPROF" heap -v -p "$SPID" --sampler inject --rate 4096 -d 60 -o "$TMP/kill.pb.gz" >/dev/null 2>"$TMP/kill.err" &
prof=$!
E2E_PIDS+=("$prof")
wait_line "$TMP/kill.err" 'samples in-process' 30
sleep 0.5
kill -9 "$prof"
wait "$prof" 2>/dev/null
sleep 1
check "bpfprof killed with SIGKILL: the target runs on" sh -c "kill -0 $SPID && ! grep -q CORRUPT '$SOUT'"
"$BPFPROF" heap -v -p "$SPID" --sampler inject --rate 4096 -d 1 -o "$TMP/after.pb.gz" >/dev/null 2>"$TMP/after.err"
check_rc "the next bpfprof attaches" $?
check "it reuses the sampler left behind" grep -q 'samples in-process: the earlier sampler' "$TMP/after.err"
check "and restores every slot, those the killed one left redirected too" grep -qE '[1-9][0-9]* GOT slots restored' "$TMP/after.err"
got=$(bytes "$TMP/after.pb.gz" churn alloc_space)
check "and records the workload's allocations (churn ${got:-0} bytes)" test "${got:-0}" -gt 0
kill -TERM "$SPID"
wait "$SPID"
rc=$?
check "the workload finishes its own checks (exit $rc: $(tail -n1 "$SOUT"))" sh -c "[ $rc -eq 0 ] && grep -q '^ok ' '$SOUT'"

# --- libraries loaded after the injection ------------------------------------
# dlopen_now loads libdl_sized.so when told and calls into it at once: its
# constructor, then lib_keep() right after dlopen returns, keep known bytes.
# bpfprof stops the process at the loader's r_brk and redirects the new
# library's slots before its constructor runs: exact at --rate 1.  Three
# more threads allocate and check their blocks all along (DLNOW_THREADS).
dlnow() {
	local name=$1 prof
	shift
	rm -f "$TMP/go"
	# It lives DLNOW_SECONDS (1) after its allocations; bpfprof ends when it does.
	DLOPEN_NOW_GO=$TMP/go "$WORKLOADS/dlopen_now" "$WORKLOADS/libdl_sized.so" "${DLNOW_SECONDS:-1}" \
		"${DLNOW_THREADS:-0}" \
		>"$TMP/$name.out" 2>&1 &
	WPID=$!
	E2E_PIDS+=("$WPID")
	wait_line "$TMP/$name.out" '^ready' 5
	env "$@" "$BPFPROF" heap -v -p "$WPID" --sampler inject --rate 1 -d 60 -o "$TMP/$name.pb.gz" \
		>/dev/null 2>"$TMP/$name.err" &
	prof=$!
	E2E_PIDS+=("$prof")
	wait_line "$TMP/$name.err" 'samples in-process|cannot' 30
	touch "$TMP/go"
	wait "$prof"
	RC=$?
	stop_workload "$WPID"
}
DLNOW_THREADS=3 dlnow dln
check_rc "dlopen right after the injection: exits 0" "$RC"
check "the other threads' blocks are intact" sh -c "! grep -q CORRUPT '$TMP/dln.out'"
check "the library's slots are redirected at the loader's report, not by the poll" \
	grep -q 'objects loaded since the injection redirected: 1 at the loader.s report, before their constructors; 0 just after it; 0 by the poll' "$TMP/dln.err"
close_to "its constructor's allocations (lib_ctor_alloc), --rate 1" \
	"$(bytes "$TMP/dln.pb.gz" lib_ctor_alloc inuse_space)" "$(expected "$TMP/dln.out" lib_ctor_alloc 2)" 0
close_to "the calls right after dlopen returned (lib_keep), --rate 1" \
	"$(bytes "$TMP/dln.pb.gz" lib_keep inuse_space)" "$(expected "$TMP/dln.out" lib_keep 2)" 0

# The same with the r_brk probe left out (an environment variable only the
# tests set): the once-a-second poll redirects the library later, so the
# checks above fail without the loader's report.  The poll would have to
# stop the process within the microseconds between dlopen's mapping and
# the calls, and it never redirects while a thread is inside the loader.
# It lives 3 s more, for the poll (once a second) to come.
DLNOW_SECONDS=3 dlnow dlpoll BPFPROF_TEST_HEAP_POLL_ONLY=1
check_rc "the poll alone: exits 0" "$RC"
check "the poll alone redirects the library's slots, later" \
	grep -q 'objects loaded since the injection redirected: 0 at the loader.s report, before their constructors; 0 just after it; 1 by the poll' "$TMP/dlpoll.err"
got=$(bytes "$TMP/dlpoll.pb.gz" lib_keep inuse_space)
check "and misses the calls right after dlopen (lib_keep ${got:-0} of $(expected "$TMP/dlpoll.out" lib_keep 2) bytes)" \
	test "${got:-0}" -lt "$(expected "$TMP/dlpoll.out" lib_keep 2)"

# A process that dlopens a fresh copy of a library every 20 ms.
"$WORKLOADS/dlopen_alloc" "$WORKLOADS/libdl_alloc.so" 30 >"$TMP/dl.out" 2>&1 &
WPID=$!
E2E_PIDS+=("$WPID")
wait_line "$TMP/dl.out" '^ready' 5
"$BPFPROF" heap -v -p "$WPID" --sampler inject --rate 1 -d 2.5 -o "$TMP/dl.pb.gz" >/dev/null 2>"$TMP/dl.err"
check_rc "a process that keeps dlopening: exits 0" $?
check "the slots of libraries loaded since the injection are redirected too" \
	grep -qE '[1-9][0-9]* GOT slots of objects (loaded since|it dlopened) redirected' "$TMP/dl.err"
n=$(sed -n 's/.*objects loaded since the injection redirected: \([0-9]*\) at the loader.*/\1/p' "$TMP/dl.err")
got=$(bytes "$TMP/dl.pb.gz" lib_alloc alloc_space)
# One library more or less: one may be loaded, not yet called, at the
# injection (redirected then), or redirected but not yet called at the end.
check "each library's allocation recorded (${got:-0} bytes, 4096 for each of ${n:-0} libraries)" \
	test "${n:-0}" -gt 0 -a "${got:-0}" -ge $(((${n:-0} - 1) * 4096)) -a "${got:-0}" -le $(((${n:-0} + 1) * 4096))
check "and all restored at the end" grep -qE '[1-9][0-9]* GOT slots restored' "$TMP/dl.err"
stop_workload "$WPID"

# --- refusals ---------------------------------------------------------------------
start_workload heap_own_malloc 30 || exit 1
expect "an allocator linked into the program: --sampler inject refuses in one line" 3 \
	'linked into its executable' -- "$BPFPROF" heap -p "$WPID" --sampler inject --rate 1 -d 0.5 -o "$TMP/own.pb.gz"
"$BPFPROF" heap -p "$WPID" --rate 1 -d 0.5 -o "$TMP/own.pb.gz" >/dev/null 2>"$TMP/own.err"
check_rc "--sampler auto falls back to uprobes: exits 0" $?
check "and says why, once" test "$(grep -c 'linked into its executable.*using uprobes' "$TMP/own.err")" -eq 1
stop_workload "$WPID"

start_workload heap_sites sites 1 30 || exit 1
TRACED=$WPID
python3 -c '
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0:  # PTRACE_SEIZE
    sys.exit(1)
print("seized", flush=True)
time.sleep(30)
' "$TRACED" >"$TMP/tracer.out" 2>&1 &
E2E_PIDS+=("$!")
wait_line "$TMP/tracer.out" seized 5
expect "another tracer: refused in one line, naming it" 3 'already traced by pid' -- \
	"$BPFPROF" heap -p "$TRACED" --sampler inject -d 0.5 -o "$TMP/tr.pb.gz"

expect "--sampler junk" 2 'invalid --sampler' -- "$BPFPROF" heap --sampler gdb -p 1
expect "--sampler inject needs -p" 2 'needs a running process' -- \
	"$BPFPROF" heap --sampler inject -o "$TMP/x.pb.gz" -- "$WORKLOADS/heap_sites" sites 1

finish
