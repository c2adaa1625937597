#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Python 3.12+ with -X perf: each Python function runs through a trampoline
# of its own, named "py::NAME:FILE" in /tmp/perf-PID.map.  Three functions
# take 50/30/20% of the work: named, with those shares (within 5 points),
# and their caller main walked through the trampolines.
# Without a Python 3.12 or later (Debian 12 has 3.11) the script is skipped.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

# The runtimes write their maps in /tmp: removed at exit, whatever happened.
MAPS=()
trap 'rm -f "${MAPS[@]}"; cleanup' EXIT

echo "jit python: end-to-end"

# A Python 3.12+ among pyenv's versions (its shims are slow) or on PATH.
PY=
for c in $(command -v pyenv >/dev/null && ls -d "$(pyenv root)"/versions/*/bin/python3.1[2-9] 2>/dev/null) \
	python3 python3.14 python3.13 python3.12; do
	if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
		PY=$(command -v "$c")
		break
	fi
done
if [ -z "$PY" ]; then
	echo "e2e: skipped: no Python 3.12 or later here (-X perf needs it; Debian 12 has 3.11)"
	exit 0
fi
echo "  info $PY: $("$PY" --version 2>&1)"

(cd "$TMP" && exec "$PY" -X perf "$OLDPWD/tests/workloads/jit_split.py" 30) >"$TMP/py.out" 2>&1 &
E2E_PIDS+=("$!")
wait_line "$TMP/py.out" '^ready [0-9]+' 20
RPID=$(awk '/^ready/ { print $2; exit }' "$TMP/py.out")
need "python -X perf started" test -n "$RPID"
MAP=/tmp/perf-$RPID.map
MAPS+=("$MAP")
need "python wrote $MAP" wait_line "$MAP" 'py::gamma' 10
"$BPFPROF" cpu -p "$RPID" -d 4 -F 999 -o "$TMP/py.pb.gz" >/dev/null 2>"$TMP/py.err"
check_rc "python: capture" $?
"$BPFPROF" report --folded "$TMP/py.pb.gz" 2>/dev/null | awk '
	{ w = $NF; if ($0 ~ /py::alpha:/) a += w; else if ($0 ~ /py::beta:/) b += w; else if ($0 ~ /py::gamma:/) c += w
	  if ($0 ~ /py::(alpha|beta|gamma):/) { t += w; if ($0 ~ /py::main:/) m += w } }
	END { s = a + b + c; if (s) printf "%.1f %.1f %.1f %.1f\n", 100*a/s, 100*b/s, 100*c/s, 100*m/t }' >"$TMP/shares"
read -r a b c m <"$TMP/shares"
want=(50 30 20)
got=("${a:-}" "${b:-}" "${c:-}")
for i in 0 1 2; do
	if within "${got[$i]}" "${want[$i]}" 5; then
		pass "python: py::$(echo alpha beta gamma | cut -d' ' -f$((i + 1))) ${got[$i]}% (want ${want[$i]}±5)"
	else
		fail "python: py::$(echo alpha beta gamma | cut -d' ' -f$((i + 1))) ${got[$i]:-absent}% (want ${want[$i]}±5)"
	fi
done
# The trampolines have no CFI and the interpreter around them keeps no
# frame pointer: the unwinder emulates the epilogue after their call.
if within "${m:-}" 100 5; then
	pass "python: callers through the trampolines down to main ($m%)"
else
	fail "python: callers through the trampolines down to main: ${m:-0}% (want ≥95)"
fi
stop_workload "$RPID"
rm -f "$MAP"
finish
