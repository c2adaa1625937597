#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every unit test binary and every end-to-end script; ends with one line
# "N passed, N failed" (", N skipped" when some could not run here).  Exit
# status is non-zero when anything failed.  A binary or script that hangs is
# stopped and counted as failed, so a hang cannot hold the run forever.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
skipped=0
UNIT_TIMEOUT=300
E2E_TIMEOUT=900

for t in build/tests/test_*; do
	[ -x "$t" ] || continue
	out=$(timeout -k 10 "$UNIT_TIMEOUT" "$t" 2>&1)
	rc=$?
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || out="$out
$t: no result within ${UNIT_TIMEOUT} s: stopped"
	# Skipped tests (no privilege for what they need) are shown, not counted.
	echo "$out" | grep -E '^\[  (FAILED|PASSED|SKIPPED)|^\[ ERROR ' | sed "s|^|$(basename "$t"): |"
	# A binary may run several groups: add up their summaries.
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	p=${p:-0}
	k=$(echo "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	f=${f:-0}
	skipped=$((skipped + ${k:-0}))
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
	n=$(ls tests/e2e/test_*.sh | wc -l)
	echo "end-to-end tests need root: $n scripts skipped"
	skipped=$((skipped + n))
else
	for t in tests/e2e/test_*.sh; do
		out=$(mktemp)
		timeout -k 10 "$E2E_TIMEOUT" bash "$t" 2>&1 | tee "$out"
		[ "${PIPESTATUS[0]}" -ne 124 ] || echo "$t: stopped after ${E2E_TIMEOUT} s"
		# A script that cannot run here (no podman) says "e2e: skipped: why".
		if grep -q '^e2e: skipped: ' "$out"; then
			skipped=$((skipped + 1))
			rm -f "$out"
			continue
		fi
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

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
