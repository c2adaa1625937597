#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stacks through generated code without frame pointers, by the unwind
# tables the runtime writes into jitdump (UNWINDING_INFO).  nofp_jit
# generates a function that keeps no frame pointer and calls back into C:
# with its table, every sample in the callee reaches main through it; the
# same program writing no table is the control, where the walk must stop
# at the generated function (so the first result comes from the table).
# Then Node.js with --perf-prof-unwinding-info: V8's tables are read, and
# stacks through its code still reach the event loop.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "jit unwind: end-to-end"

# through FILE: "BURN_MS PCT_JIT PCT_MAIN": of the samples holding burn,
# the percentages whose stack also holds jit_hot, and main under it.
through() {
	"$BPFPROF" report --folded "$1" 2>/dev/null | awk '
		/(^|;)burn(;| )/ { n++; t += $NF; if (/(^|;)jit_hot;/) j += $NF; if (/(^|;)main;run_jit;jit_hot;burn/) m += $NF }
		END { printf "%d %.1f %.1f\n", t / 1e6, t ? 100 * j / t : 0, t ? 100 * m / t : 0 }'
}

# capture MODE: profiles nofp_jit writing its table (unwind) or not (nounwind).
capture() {
	local mode=$1
	mkdir -p "$TMP/$mode"
	start_workload nofp_jit 30 "$mode" "$TMP/$mode" || return 1
	"$BPFPROF" cpu -p "$WPID" -d 3 -F 499 -o "$TMP/$mode.pb.gz" >/dev/null 2>"$TMP/$mode.err"
	check_rc "nofp_jit $mode: capture" $?
	stop_workload "$WPID"
}

capture unwind
read -r n jit main <<<"$(through "$TMP/unwind.pb.gz")"
echo "  info with the table: $n ms in burn; $jit% through jit_hot, $main% down to main"
need "nofp_jit ran in burn (the workload)" test "$n" -gt 0
check "with UNWINDING_INFO: one function with a table in the profile's comments" \
	sh -c "go tool pprof -comments '$TMP/unwind.pb.gz' 2>/dev/null |
		grep -q '^generated code: 1 functions with unwind tables from jitdump in 1 processes; 0 tables unusable'"
check "with UNWINDING_INFO: jit_hot named from the dump" within "$jit" 100 5
# The table is the only way past jit_hot: >= 95% (a sample landing in
# jit_hot's own few instructions has no burn and does not count).
check "with UNWINDING_INFO: burn's samples walk through jit_hot down to main ($main%, want >= 95)" \
	within "$main" 100 5

capture nounwind
read -r n jit main <<<"$(through "$TMP/nounwind.pb.gz")"
echo "  info without the table: $n ms in burn; $jit% through jit_hot, $main% down to main"
check "without UNWINDING_INFO: jit_hot still named (burn's own table reaches it)" within "$jit" 100 5
check "without UNWINDING_INFO: the walk stops at jit_hot ($main% reach main, want <= 5)" \
	within "$main" 0 5

# --- Node.js: V8's own tables ---
if ! command -v node >/dev/null; then
	fail "cannot test: no node (nodejs, installed by make deps)"
elif ! node --v8-options | grep -q -- '--perf-prof-unwinding-info'; then
	fail "cannot test: this node has no --perf-prof-unwinding-info"
else
	SPLIT_JS=$PWD/tests/workloads/jit_split.js
	(cd "$TMP" && exec node --perf-prof --perf-prof-unwinding-info --no-turbo-inlining \
		"$SPLIT_JS" 30) >"$TMP/node.out" 2>&1 &
	E2E_PIDS+=("$!")
	wait_line "$TMP/node.out" '^ready [0-9]+' 20
	RPID=$(awk '/^ready/ { print $2; exit }' "$TMP/node.out")
	need "node --perf-prof --perf-prof-unwinding-info started" test -n "$RPID"
	E2E_PIDS+=("$RPID")
	need "V8 optimized work (its code load is in the dump)" \
		wait_line "$TMP/jit-$RPID.dump" 'JS:\*work ' 30
	"$BPFPROF" cpu -p "$RPID" -d 4 -F 999 -o "$TMP/node.pb.gz" >/dev/null 2>"$TMP/node.err"
	check_rc "node unwinding info: capture" $?
	go tool pprof -comments "$TMP/node.pb.gz" 2>/dev/null | grep '^generated code' | sed 's/^/  info /'
	check "node unwinding info: V8's tables read, none unusable" \
		sh -c "go tool pprof -comments '$TMP/node.pb.gz' 2>/dev/null |
			grep -qE '^generated code: [1-9][0-9]* functions with unwind tables from jitdump in 1 processes; 0 tables unusable'"
	read -r pct <<<"$("$BPFPROF" report --folded "$TMP/node.pb.gz" 2>/dev/null | awk '
		/JS:[~^*+]?(alpha|beta|gamma) / { t += $NF; if (/;uv_run;/) ok += $NF }
		END { printf "%.1f\n", t ? 100 * ok / t : 0 }')"
	check "node unwinding info: alpha/beta/gamma walk down to uv_run ($pct%, want >= 95)" \
		within "$pct" 100 5
	stop_workload "$RPID"
fi

finish
