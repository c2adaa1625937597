#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The flame graph page (--html, report --html, serve's view=flame) in a real
# browser: Debian's chromium, headless, driven by playwright-core, from
# file:// with every other request refused.  Against cpu_split (three
# functions, two threads) and cpu_split again (burn_a and burn_b, 70/30 then 30/70)
# for a diff; numbers are compared with go tool pprof's.  Screenshots of
# every view stay in build/html-*.png.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "html: end-to-end"

if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
	echo "e2e: skipped: no chromium (make deps installs it)"
	exit 0
fi
if ! command -v node >/dev/null || [ ! -d build/node_modules/playwright-core ]; then
	echo "e2e: skipped: no node or no playwright-core in build/node_modules (make deps)"
	exit 0
fi
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
SHOTS=build/html

# browser MODE PAGE EXPECT: runs tests/e2e/html_browser.js and counts its lines.
browser() {
	local out rc
	out=$(node tests/e2e/html_browser.js "$1" "$2" "$3" "$SHOTS" 2>&1)
	rc=$?
	if [ "$rc" -eq 2 ]; then
		echo "e2e: skipped: $(echo "$out" | tail -n1)"
		exit 0
	fi
	while IFS= read -r line; do
		case $line in
		pass:*) pass "${line#pass: }" ;;
		fail:*) fail "${line#fail: }" ;;
		*) [ -n "$line" ] && echo "  $line" ;;
		esac
	done <<<"$out"
	[ "$rc" -eq 0 ] || [ "$E2E_FAILED" -gt 0 ] || fail "html_browser.js $1 exited $rc"
}

# total FILE INDEX [PPROF_FLAGS...]: the value pprof -top accounts for, in the sample type's unit,
# with every node shown (by default small nodes are left out of that sum).
total() {
	local file=$1 index=$2
	shift 2
	go tool pprof -top -unit=ns -nodefraction=0 -nodecount=1000000 -sample_index="$index" "$@" "$file" 2>/dev/null |
		sed -n 's/^Showing nodes accounting for \(-\{0,1\}[0-9]*\)\(ns\)\{0,1\}, .*/\1/p'
}

# --- a capture with --html: the page beside the profile ---
"$BPFPROF" cpu -d 3 -o "$TMP/cpu.pb.gz" --html "$TMP/cpu.html" -- "$WORKLOADS/cpu_split" 3 2 \
	>"$TMP/cpu.out" 2>"$TMP/cpu.err"
check_rc "cpu --html exits 0" $?
check "cpu --html says where the page is" grep -q "^wrote $TMP/cpu.html$" "$TMP/cpu.out"
check "the page is one file with no external reference" \
	sh -c "! grep -Eq '(src|href)=\"(https?:)?//' '$TMP/cpu.html'"

cpu=$(total "$TMP/cpu.pb.gz" cpu)
samples=$(total "$TMP/cpu.pb.gz" samples)
need "pprof reads the capture ($cpu ns, $samples samples)" test -n "$cpu" -a -n "$samples" -a "${samples:-0}" -gt 20
# The first thread tid's share, and the share of burn_a plus burn_b.
tid=$(go tool pprof -raw "$TMP/cpu.pb.gz" 2>/dev/null | sed -n 's/.*tid:\[\([0-9]*\)\].*/\1/p' | sort -n | uniq | head -n1)
# (pprof matches the value as a regular expression, unanchored: the tids of one process have as many digits.)
tid_total=$(total "$TMP/cpu.pb.gz" cpu -tagfocus="tid=$tid")
cum_ns() {
	go tool pprof -top -unit=ns -nodecount=1000 "$1" 2>/dev/null |
		awk -v fn="$2" '$6 == fn { sub("ns$", "", $4); print $4; exit }'
}
a=$(cum_ns "$TMP/cpu.pb.gz" burn_a)
b=$(cum_ns "$TMP/cpu.pb.gz" burn_b)
cat >"$TMP/cpu.json" <<EOF
{ "total": $cpu, "samples": $samples, "samplesIndex": 0, "cpuIndex": 1,
  "zoom": "burn_b", "other": "burn_a",
  "search": "^burn_[ab]\$", "searchValue": $((${a:-0} + ${b:-0})),
  "searchHits": ["burn_a", "burn_b"],
  "tid": "$tid", "tidTotal": ${tid_total:-0} }
EOF
browser check "$TMP/cpu.html" "$TMP/cpu.json"

# --- report --html of the same file is the same page ---
"$BPFPROF" report --html "$TMP/report.html" "$TMP/cpu.pb.gz" 2>"$TMP/report.err"
check_rc "report --html exits 0" $?
check "report --html writes the same data block" \
	bash -c "grep -o '\"profiles\".*' '$TMP/cpu.html' | cmp -s - <(grep -o '\"profiles\".*' '$TMP/report.html')"
expect "report --html of a file that is not a profile" 2 "not a pprof profile" -- \
	"$BPFPROF" report --html "$TMP/x.html" "$TMP/cpu.json"
check "no page is left behind a failure" test ! -e "$TMP/x.html"
expect "report --html with --folded (one report at a time)" 2 "different reports" -- \
	"$BPFPROF" report --html "$TMP/x.html" --folded "$TMP/cpu.pb.gz"

# --- a diff: 70/30, then 30/70 ---
# About 100 samples a capture on a busy 2-CPU machine: a share is known to a
# few points, so the 40-point move is checked to 15; the page's numbers are
# checked against pprof's to 0.1.
"$BPFPROF" cpu -q -d 3 -o "$TMP/before.pb.gz" -- "$WORKLOADS/cpu_split" 3 1 70:30:0 2>/dev/null
"$BPFPROF" cpu -q -d 3 -o "$TMP/after.pb.gz" -- "$WORKLOADS/cpu_split" 3 1 30:70:0 2>/dev/null
"$BPFPROF" report --html "$TMP/diff.html" --base "$TMP/before.pb.gz" "$TMP/after.pb.gz" 2>"$TMP/diff.err"
check_rc "report --html --base exits 0" $?
a0=$(pprof_share "$TMP/before.pb.gz" burn_a)
a1=$(pprof_share "$TMP/after.pb.gz" burn_a)
b0=$(pprof_share "$TMP/before.pb.gz" burn_b)
b1=$(pprof_share "$TMP/after.pb.gz" burn_b)
need "the workload split 70/30 then 30/70 (pprof: burn_a $a0% -> $a1%, burn_b $b0% -> $b1%)" \
	sh -c "awk 'BEGIN { exit !($a0 > 60 && $a1 < 40 && $b0 < 40 && $b1 > 60) }'"
cat >"$TMP/diff.json" <<EOF
{ "total": $(total "$TMP/after.pb.gz" cpu), "baseTotal": $(total "$TMP/before.pb.gz" cpu),
  "funcs": [ { "name": "burn_a", "base": $a0, "now": $a1, "expect": -40, "tol": 15 },
             { "name": "burn_b", "base": $b0, "now": $b1, "expect": 40, "tol": 15 } ] }
EOF
browser diff "$TMP/diff.html" "$TMP/diff.json"

# --- serve: view=flame on a capture endpoint ---
start_workload cpu_split 0
if serve_start --listen 127.0.0.1:0 -p "$WPID"; then
	curl -s -D "$TMP/h.txt" -o "$TMP/served.html" "${URL}profile?seconds=1&view=flame"
	check "serve view=flame answers text/html" grep -qi '^content-type: text/html' "$TMP/h.txt"
	check "serve view=flame sends the page with burn_a in it" \
		sh -c "grep -q '<canvas' '$TMP/served.html' && grep -q '\"burn_a\"' '$TMP/served.html'"
	check "serve view=flame is shown, not downloaded" sh -c "! grep -qi '^content-disposition' '$TMP/h.txt'"
	code=$(curl -s -o /dev/null -w '%{http_code}' "${URL}profile?seconds=1&view=svg")
	check "serve view=svg is a 400" test "$code" = 400
	kill "$SERVE" 2>/dev/null
	wait "$SERVE" 2>/dev/null
else
	fail "serve starts"
fi
stop_workload "$WPID"

finish
