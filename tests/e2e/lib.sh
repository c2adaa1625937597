# SPDX-License-Identifier: Apache-2.0
# Helpers for end-to-end tests: run as root from the repository root.
# Each test script sources this, calls pass/fail (or check), and ends with
# `finish`, which prints "e2e: N passed, N failed".

BPFPROF=${BPFPROF:-build/bpfprof}
WORKLOADS=${WORKLOADS:-build/workloads}
E2E_PASSED=0
E2E_FAILED=0
E2E_PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bpfprof-e2e.XXXXXX")
export HOME=${HOME:-$TMP} PPROF_TMPDIR=$TMP

cleanup() {
	local pid
	for pid in "${E2E_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

pass() {
	E2E_PASSED=$((E2E_PASSED + 1))
	echo "  ok   $*"
}

fail() {
	E2E_FAILED=$((E2E_FAILED + 1))
	echo "  FAIL $*"
}

# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# check_raw FILE: go tool pprof -raw reads the profile FILE and warns of
# nothing; its text stays in $TMP/raw.txt for the checks that follow.
check_raw() {
	go tool pprof -raw "$1" >"$TMP/raw.txt" 2>"$TMP/raw.err"
	check "go tool pprof -raw reads it" test $? -eq 0
	check "go tool pprof -raw prints no warning" test ! -s "$TMP/raw.err"
}

# check_raw_contentions FILE KIND: check_raw, then the sample and period
# types of Go's KIND profile (mutex or block): contentions and delay.
check_raw_contentions() {
	check_raw "$1"
	check "Go's $2 profile names: contentions/count delay/nanoseconds" \
		grep -qE '^ *contentions/count delay/nanoseconds' "$TMP/raw.txt"
	check "period type contentions/count, period 1" \
		sh -c "grep -q '^PeriodType: contentions count' '$TMP/raw.txt' && grep -q '^Period: 1\$' '$TMP/raw.txt'"
}

finish() {
	echo "e2e: $E2E_PASSED passed, $E2E_FAILED failed"
	[ "$E2E_FAILED" -eq 0 ]
}

# check_rc NAME RC [WANT]: passes when the exit status RC is WANT (0 unless given).
check_rc() {
	if [ "$2" -eq "${3:-0}" ]; then
		pass "$1"
	else
		fail "$1: exit $2 (want ${3:-0})"
	fi
}

# need WHAT COMMAND...: a precondition of the checks that follow, about the
# machine or a workload, not about bpfprof: said when it holds, a failure
# when it does not (the checks that rely on it would mean nothing).
need() {
	local what=$1
	shift
	if "$@"; then echo "  info $what"; else fail "cannot test: not so: $what"; fi
}

# wait_line FILE REGEX TIMEOUT: waits until a line of FILE matches REGEX
# (extended); false after TIMEOUT seconds (decimals allowed) without one.
wait_line() {
	local file=$1 re=$2 n
	n=$(awk -v t="$3" 'BEGIN { printf "%d", t * 20 + 1 }')
	while [ "$n" -gt 0 ]; do
		grep -qE -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.05
		n=$((n - 1))
	done
	echo "  (no line matching '$re' in ${file##*/} after $3 s)" >&2
	return 1
}

# wait_fd PID KIND TIMEOUT: waits until process PID holds a file descriptor
# of KIND as /proc/PID/fd names it (e.g. perf_event: cpu's sampling events,
# opened once its programs are loaded); false after TIMEOUT seconds.
wait_fd() {
	local pid=$1 kind=$2 n
	n=$(awk -v t="$3" 'BEGIN { printf "%d", t * 20 + 1 }')
	while [ "$n" -gt 0 ]; do
		ls -l "/proc/$pid/fd" 2>/dev/null | grep -q -- "$kind" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
		n=$((n - 1))
	done
	echo "  (pid $pid holds no $kind file after $3 s)" >&2
	return 1
}

# profile_ok FILE: go tool pprof decodes FILE.
profile_ok() {
	go tool pprof -raw "$1" >/dev/null 2>&1
}

# check_none NAME FILE REGEX [PPROF_ARGS...]: FILE decodes and no line of
# `go tool pprof PPROF_ARGS FILE` (-raw unless given) matches REGEX.  An
# unreadable or missing file fails: the absence of something is only shown
# by a profile that could have held it.
check_none() {
	local name=$1 file=$2 re=$3
	shift 3
	[ $# -gt 0 ] || set -- -raw
	if ! go tool pprof "$@" "$file" >"$TMP/none.out" 2>"$TMP/none.err"; then
		fail "$name: go tool pprof $* cannot read ${file##*/}: $(head -n1 "$TMP/none.err" | cut -c1-200)"
	elif grep -qE -- "$re" "$TMP/none.out"; then
		fail "$name: found $(grep -m1 -E -- "$re" "$TMP/none.out")"
	else
		pass "$name"
	fi
}

# check_decoded NAME FILE COMMAND...: FILE decodes and COMMAND succeeds; for
# checks that something is absent or zero, which an unreadable file would pass.
check_decoded() {
	local name=$1 file=$2
	shift 2
	if ! profile_ok "$file"; then
		fail "$name: go tool pprof cannot read ${file##*/}"
	elif "$@"; then
		pass "$name"
	else
		fail "$name"
	fi
}

# start_workload NAME ARGS...: starts a workload in the background, waits for
# its "ready" line, and sets WPID.  Killed by PID at exit.
start_workload() {
	local name=$1 out
	shift
	out=$TMP/$name.$RANDOM.out
	"$WORKLOADS/$name" "$@" >"$out" 2>&1 &
	WPID=$!
	E2E_PIDS+=("$WPID")
	wait_line "$out" '^ready' 5 && return 0
	echo "workload $name did not start" >&2
	return 1
}

stop_workload() {
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# pprof_share FILE FUNCTION [FIELD]: the cum% (or flat%: FIELD 2) of FUNCTION
# as `go tool pprof -top` prints it, without the % sign; empty when absent.
pprof_share() {
	local file=$1 fn=$2 field=${3:-5}
	go tool pprof -top -nodecount=1000 "$file" 2>/dev/null |
		awk -v fn="$fn" -v f="$field" '$6 == fn { sub("%", "", $f); print $f; exit }'
}

# delay FILE FUNCTION [PPROF_FLAGS...]: cum delay of FUNCTION in ms (offcpu,
# mutex); empty when absent.
delay() {
	local file=$1 fn=$2
	shift 2
	go tool pprof -top -nodecount=1000 -sample_index=delay -unit=ms "$@" "$file" 2>/dev/null |
		awk -v fn="$fn" '$6 == fn { sub("ms$", "", $4); print $4; exit }'
}

# within A B TOLERANCE: |A - B| <= TOLERANCE (decimals allowed).
within() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= t) }'
}

# expect NAME CODE PATTERN -- COMMAND...: exit code CODE, one stderr line matching PATTERN.
expect() {
	local name=$1 code=$2 pattern=$3 rc lines
	shift 4
	timeout 20 "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -qE "$pattern" "$TMP/err"; then
		pass "$name (exit $rc: $(cat "$TMP/err"))"
	else
		fail "$name: exit $rc (want $code), stderr: $(head -c 300 "$TMP/err")"
	fi
}

# trace_has FILE REGEX [PPROF_FLAGS...]: some stack of `pprof -traces`, as its
# function names innermost first on one line (" a b c"), matches REGEX.
trace_has() {
	local file=$1 pattern=$2
	shift 2
	go tool pprof -traces "$@" "$file" 2>/dev/null |
		awk '/^-+\+/ { if (s != "") print s; s = ""; on = 1; next }
		     !on || /^ *[a-z_]+: / { next }
		     { l = $0; sub(/ \(inline\)$/, "", l); n = split(l, w, " "); s = s " " w[n] }
		     END { if (s != "") print s }' | grep -qE "$pattern"
}

# near_10pct NAME GOT WANT WHAT UNIT: GOT within 10% of WANT (WANT > 0); WHAT
# names where WANT comes from, UNIT follows both numbers.
near_10pct() {
	local what=$4 unit=$5
	if [ -n "$2" ] && awk -v g="$2" -v w="$3" \
		'BEGIN { d = g - w; if (d < 0) d = -d; exit !(w > 0 && d <= 0.10 * w) }'; then
		pass "$1: ${2}$unit, $what ${3}$unit"
	else
		fail "$1: ${2:-absent}$unit, $what ${3:-nothing}$unit (want ±10%)"
	fi
}

# expect_split NAME FILE [PPROF_FLAGS...]: cpu_split's burn_a/b/c take 50/30/20%
# (within 5 points) of the time the three burners took together.
expect_split() {
	local name=$1 file=$2 fn want got
	shift 2
	go tool pprof -top -nodecount=1000 "$@" "$file" 2>/dev/null |
		awk '$6 ~ /^burn_[abc]$/ { sub("%", "", $2); v[$6] = $2; t += $2 }
		     END { for (f in v) printf "%s %.2f\n", f, t ? 100 * v[f] / t : 0 }' >"$TMP/split"
	for fn in burn_a:50 burn_b:30 burn_c:20; do
		want=${fn#*:}
		got=$(awk -v fn="${fn%:*}" '$1 == fn { print $2 }' "$TMP/split")
		if within "$got" "$want" 5; then
			pass "$name: ${fn%:*} ${got}% (want ${want}±5)"
		else
			fail "$name: ${fn%:*} ${got:-absent}% (want ${want}±5)"
		fi
	done
}

# serve_start ARGS...: starts "bpfprof serve ARGS..." in the background and
# waits for its "serving ... on URL" line; sets SERVE (its pid), SERVE_LOG
# (its stderr) and URL (its /debug/pprof/ address, on 127.0.0.1 whatever
# address it listens on).
serve_start() {
	SERVE_LOG=$TMP/serve.$RANDOM.log
	"$BPFPROF" serve "$@" 2>"$SERVE_LOG" &
	SERVE=$!
	E2E_PIDS+=("$SERVE")
	URL=
	for _ in $(seq 200); do
		URL=$(sed -n 's|.* on http://[^ ]*\(:[0-9]*/debug/pprof/\)$|http://127.0.0.1\1|p' "$SERVE_LOG")
		[ -n "$URL" ] && return 0
		kill -0 "$SERVE" 2>/dev/null || break
		sleep 0.05
	done
	echo "bpfprof serve did not start: $(cat "$SERVE_LOG")" >&2
	return 1
}
