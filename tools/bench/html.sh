#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The flame graph page: its size and the time to its first paint in headless
# chromium (from navigation start: parse, tree, canvas) for synthetic CPU
# profiles of 1k, 20k and 100k distinct locations, 100k samples each
# (tools/bench/flamegen.c).  Each page is loaded 3 times; the median shows.
set -eu
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ] || [ ! -d build/node_modules/playwright-core ]; then
	echo "skipped: no chromium or playwright-core (make deps)"
	exit 0
fi
. tools/bench/lib.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

SAMPLES=${SAMPLES:-100000}
pages=()
for n in 1000 20000 100000; do
	build/bench/flamegen "$n" "$SAMPLES" "$TMP/$n.pb.gz"
	build/bpfprof report --html "$TMP/$n.html" "$TMP/$n.pb.gz"
	pages+=("$TMP/$n.html")
done
for _ in 1 2 3; do
	node tests/e2e/html_browser.js bench "${pages[@]}"
done >"$TMP/runs"

printf '%-10s %8s %10s %10s %12s\n' locations samples "page size" "script ms" "first paint"
for n in 1000 20000 100000; do
	size=$(stat -c %s "$TMP/$n.html")
	script=$(awk -v f="$n.html" '$1 == f { print $3 }' "$TMP/runs" | median)
	paint=$(awk -v f="$n.html" '$1 == f { print $4 }' "$TMP/runs" | median)
	printf '%-10s %8s %9.1fM %8s ms %9s ms\n' "$n" "$SAMPLES" "$(echo "$size" | awk '{ print $1 / 1048576 }')" \
		"$script" "$paint"
done
