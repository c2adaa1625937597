#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every unit test binary and every end-to-end script; ends with one line
# "N passed, N failed".  Exit status is non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0

for t in build/tests/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1)
	rc=$?
	# Skipped tests (no privilege for what they need) are shown, not counted.
	echo "$out" | grep -E '^\[  (FAILED|PASSED|SKIPPED)|^\[ ERROR ' | sed "s|^|$(basename "$t"): |"
	# A binary may run several groups: add up their summaries.
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Crashed, or failed outside a test: count it, show the tail.
		echo "$out" | tail -n 20
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

# House style: the tree is clang-formatted (make fmt).
if command -v clang-format >/dev/null; then
	if make -s fmt-check >/dev/null 2>&1; then
		echo "format: ok"
		passed=$((passed + 1))
	else
		echo "format: FAIL (run make fmt)"
		failed=$((failed + 1))
	fi
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "end-to-end tests need root: skipped"
else
	for t in tests/e2e/test_*.sh; do
		out=$(mktemp)
		bash "$t" 2>&1 | tee "$out"
		p=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$out" | tail -n1)
		f=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$out" | tail -n1)
		if [ -z "$p" ]; then
			echo "$t: ended without a summary"
			p=0
			f=1
		fi
		rm -f "$out"
		passed=$((passed + p))
		failed=$((failed + f))
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
