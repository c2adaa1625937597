#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A Go program profiled twice at once: by itself (runtime/pprof) and by
# bpfprof, which unwinds it from its .debug_frame.  The cum% of each of its
# functions must agree within 3 points, and the stacks of its frameless
# leaves must keep their callers all the way to main.main.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "go: end-to-end"

if ! command -v go >/dev/null; then
	echo "  skip no Go toolchain (golang-go, installed by make deps)"
	finish
	exit
fi

GOBURN=$WORKLOADS/goburn
SECONDS_RUN=8
TOLERANCE=3

[ -x "$GOBURN" ] || make -s build/workloads/goburn >/dev/null
need "goburn is built" test -x "$GOBURN"
[ -x "$GOBURN" ] || {
	finish
	exit
}

# cum_shares FILE: "function cum%" for every main.* function in FILE.
cum_shares() {
	go tool pprof -top -nodecount=1000 "$1" 2>/dev/null |
		awk '$6 ~ /^main\./ { sub("%", "", $5); print $6, $5 }'
}

# total FILE: the profile's total, as go tool pprof prints it.
total() {
	go tool pprof -top "$1" 2>/dev/null | sed -n 's/.*Total samples = \([^ ]*\).*/\1/p'
}

# complete FILE LEAF CHAIN...: of the samples whose stack holds LEAF, the
# share (percent) in which LEAF is followed, towards the root, by one of the
# CHAINs (callers separated by spaces).
complete() {
	local file=$1 leaf=$2
	shift 2
	go tool pprof -traces -unit=ms "$file" 2>/dev/null |
		awk -v leaf="$leaf" -v chains="$(printf '%s|' "$@")" '
		function flush(   i, n, at, rest, want) {
			if (w == "" || !index(stack " ", " " leaf " ")) { w = ""; return }
			total += w
			at = index(stack " ", " " leaf " ")
			rest = substr(stack " ", at + 1)
			n = split(chains, want, "|")
			for (i = 1; i <= n; i++)
				if (want[i] != "" && index(rest, leaf " " want[i] " ") == 1) { ok += w; break }
			w = ""
		}
		/^-+\+-+$/ { flush(); next }
		/^ +[0-9.]+ms +[^ ]+$/ { flush(); w = $1; sub("ms", "", w); stack = " " $2; next }
		NF == 1 && w != "" { stack = stack " " $1 }
		END { flush(); if (total > 0) printf "%.1f\n", 100 * ok / total; else print 0 }'
}

out=$TMP/bpfprof.pb.gz
own=$TMP/go.pprof
timeout 120 "$BPFPROF" cpu -F 499 -q -o "$out" -- "$GOBURN" "$SECONDS_RUN" "$own" \
	>"$TMP/run.out" 2>"$TMP/run.err"
rc=$?
check "bpfprof cpu -- goburn: exit 0" test "$rc" -eq 0
need "goburn wrote its own profile" test -s "$own"
need "goburn ran to the end" grep -q '^done [0-9]* rounds' "$TMP/run.err"

cum_shares "$own" | sort >"$TMP/go.cum"
cum_shares "$out" | sort >"$TMP/bpf.cum"
echo "  info $(grep -c . "$TMP/go.cum") main.* functions in Go's profile;" \
	"sampled: $(total "$own") by Go (100 Hz), $(total "$out") by bpfprof (499 Hz)"
missing=
for fn in main.main main.run main.direct main.outer main.middle main.inner main.leaf main.self; do
	grep -q "^$fn " "$TMP/go.cum" || missing="$missing $fn"
done
need "Go's own profile has every function of goburn${missing:+ (not:$missing)}" test -z "$missing"
# Every function of the program that Go's profile shows, bpfprof shows with the same cum%.
while read -r fn want; do
	got=$(awk -v fn="$fn" '$1 == fn { print $2 }' "$TMP/bpf.cum")
	if within "$got" "$want" "$TOLERANCE"; then
		pass "$fn: cum ${got}% in bpfprof's profile, ${want}% in Go's (within $TOLERANCE)"
	else
		fail "$fn: cum ${got:-absent}% in bpfprof's profile, ${want}% in Go's (want within $TOLERANCE)"
	fi
done <"$TMP/go.cum"

# The frameless leaves keep their callers: a frame-pointer walk skips the
# caller of each (main.direct or main.inner under main.leaf, main.run under
# main.self).  Samples taken before bpfprof has loaded the new process's
# tables are walked by frame pointers (its first 20-30 ms here, 0.3-1% of
# main.leaf's samples), hence 95, not 100.
leaf_chains=("main.direct main.run main.main" "main.inner main.middle main.outer main.run main.main")
# Go's own profile is the reference: that it has the chains is a
# precondition; bpfprof's having them is the check.
got=$(complete "$own" main.leaf "${leaf_chains[@]}")
need "Go's profile: ${got}% of main.leaf samples have their full chain to main.main" within "$got" 100 5
got=$(complete "$own" main.self "main.run main.main")
need "Go's profile: ${got}% of main.self samples have main.run <- main.main" within "$got" 100 5
for file in "$out"; do
	who="bpfprof"
	got=$(complete "$file" main.leaf "${leaf_chains[@]}")
	if within "$got" 100 5; then
		pass "$who: ${got}% of main.leaf samples have their full chain to main.main (want >= 95)"
	else
		fail "$who: ${got}% of main.leaf samples have their full chain to main.main (want >= 95)"
	fi
	got=$(complete "$file" main.self "main.run main.main")
	if within "$got" 100 5; then
		pass "$who: ${got}% of main.self samples have main.run <- main.main (want >= 95)"
	else
		fail "$who: ${got}% of main.self samples have main.run <- main.main (want >= 95)"
	fi
done
check "the chain main.leaf <- main.inner <- main.middle <- main.outer <- main.run <- main.main" \
	sh -c "go tool pprof -traces '$out' 2>/dev/null | tr -s ' \n' ' ' |
		grep -q 'main.leaf main.inner main.middle main.outer main.run main.main runtime.main'"

# Go writes no .debug_aranges: the symbolizer finds the compile unit itself.
check "Go frames have file:line (main.leaf at main.go)" \
	sh -c "go tool pprof -top -lines '$out' 2>/dev/null | grep -q 'main.leaf .*tests/workloads/go/main.go:[0-9]'"

# --- stripped (go build -ldflags=-s -w, strip): names and lines from .gopclntab ---
stripped=$TMP/goburn-stripped
objcopy --strip-all "$GOBURN" "$stripped"
need "the stripped copy has no symbols and no DWARF" \
	sh -c "! readelf -S '$stripped' | grep -qE '\.symtab|\.debug_'"
out=$TMP/stripped.pb.gz
timeout 60 "$BPFPROF" cpu -F 499 -q -o "$out" -- "$stripped" 4 "$TMP/own-stripped" \
	>/dev/null 2>"$TMP/stripped.err"
check "bpfprof cpu -- a stripped Go binary: exit 0" test $? -eq 0
# Flat shares do not depend on unwinding: 60% in main.leaf, 30% in main.self.
for want in main.leaf:60 main.self:30; do
	got=$(pprof_share "$out" "${want%:*}" 2)
	if within "$got" "${want#*:}" 5; then
		pass "stripped: ${want%:*} flat ${got}% (want ${want#*:}±5)"
	else
		fail "stripped: ${want%:*} flat ${got:-absent}% (want ${want#*:}±5)"
	fi
done
check "stripped: file:line too (main.leaf at main.go)" \
	sh -c "go tool pprof -top -lines '$out' 2>/dev/null | grep -q 'main.leaf .*tests/workloads/go/main.go:[0-9]'"
check_none "stripped: no frame is a bare address" "$out" ' 0x[0-9a-f]+$' -top -nodecount=1000
# No .debug_frame either: the frames come from .gopclntab's frame sizes, so
# the frameless leaves keep their callers as with DWARF.
got=$(complete "$out" main.leaf "${leaf_chains[@]}")
if within "$got" 100 5; then
	pass "stripped: ${got}% of main.leaf samples have their full chain to main.main (want >= 95)"
else
	fail "stripped: ${got}% of main.leaf samples have their full chain to main.main (want >= 95)"
fi

finish
