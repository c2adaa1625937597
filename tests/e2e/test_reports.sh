#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reports without Go, checked against go tool pprof on real captures: the
# program as first mapping, report --base (a workload whose split moves from
# 70/30 to 30/70), --traces, --svg, and a stripped library's frames as
# module+0xoffset.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "reports: end-to-end"

# --- pprof's main binary first, for -p and for a snapshot type ---
start_workload cpu_split 0 1 || exit 1
pid=$WPID
"$BPFPROF" cpu -p "$pid" -d 1 -q -o "$TMP/p.pb.gz" 2>"$TMP/p.err"
check_rc "cpu -p exits 0" $?
check "cpu -p: go tool pprof names the program (File: cpu_split)" \
	sh -c "go tool pprof -top '$TMP/p.pb.gz' 2>/dev/null | grep -qx 'File: cpu_split'"
check "cpu -p: the first mapping of -raw is the program" \
	sh -c "go tool pprof -raw '$TMP/p.pb.gz' 2>/dev/null | sed -n '/^Mappings/{n;p;q}' | grep -q '^1: .*/cpu_split '"
"$BPFPROF" threads -p "$pid" -q -o "$TMP/th.pb.gz" 2>"$TMP/th.err"
check_rc "threads -p exits 0" $?
check "threads -p: File: cpu_split" \
	sh -c "go tool pprof -top '$TMP/th.pb.gz' 2>/dev/null | grep -qx 'File: cpu_split'"
stop_workload "$pid"

# --- two captures of a split that moves: burn_a 70% then 30%, burn_b 30% then 70% ---
for split in 70:30:0 30:70:0; do
	"$BPFPROF" cpu -F 499 -q -o "$TMP/$split.pb.gz" -- "$WORKLOADS/cpu_split" 3 1 "$split" \
		2>"$TMP/$split.err"
	check_rc "cpu -- cpu_split 3 1 $split exits 0" $?
	check "cpu -- CMD: File: cpu_split" \
		sh -c "go tool pprof -top '$TMP/$split.pb.gz' 2>/dev/null | grep -qx 'File: cpu_split'"
done
base=$TMP/70:30:0.pb.gz new=$TMP/30:70:0.pb.gz

# samples FILE: "function flat" per row of go tool pprof -top, in sample counts.
samples() {
	go tool pprof -top -nodecount=1000 -sample_index=samples "$1" 2>/dev/null |
		awk '$6 ~ /^burn_[ab]$/ { print $6, $1 }'
}
read -r a0 b0 <<<"$(samples "$base" | sort | awk '{ printf "%s ", $2 }')"
read -r a1 b1 <<<"$(samples "$new" | sort | awk '{ printf "%s ", $2 }')"
"$BPFPROF" report --base "$base" -s samples --top 0 "$new" >"$TMP/diff.txt" 2>"$TMP/diff.err"
check_rc "report --base exits 0" $?
# row FUNCTION FIELD: a field of FUNCTION's row in the difference table.
row() { awk -v fn="$1" -v f="$2" '$6 == fn { print $f; exit }' "$TMP/diff.txt"; }
da=$(row burn_a 1) db=$(row burn_b 1)
# signed N: N with its sign, as the difference table prints it.
signed() { if [ "$1" -gt 0 ]; then echo "+$1"; else echo "$1"; fi; }
check "report --base: burn_a's flat change is new - base ($da = $a1 - $a0)" \
	test -n "$a0" -a -n "$a1" -a "$da" = "$(signed $((a1 - a0)))"
check "report --base: burn_b's flat change is new - base ($db = $b1 - $b0)" \
	test -n "$b0" -a -n "$b1" -a "$db" = "$(signed $((b1 - b0)))"
# The CPU time of a capture varies with the load on the machine: the split
# moved from 70/30 of total0 to 30/70 of total1, so burn_a's change is
# 0.3 total1 - 0.7 total0 (± 5% of the two).
total0=$((a0 + b0)) total1=$((a1 + b1))
# moved D FROM TO: D is TO% of total1 less FROM% of total0, ± 5% of the two.
moved() {
	awk -v d="${1:-x}" -v from="$2" -v to="$3" -v t0="$total0" -v t1="$total1" \
		'BEGIN { want = (to * t1 - from * t0) / 100; m = 0.05 * (t0 + t1)
			 exit !(d != "x" && d - want <= m && want - d <= m) }'
}
check "burn_a moved from 70% of $total0 samples to 30% of $total1 ($da; want $(((30 * total1 - 70 * total0) / 100)))" \
	moved "$da" 70 30
check "burn_b moved from 30% of $total0 samples to 70% of $total1 ($db; want +$(((70 * total1 - 30 * total0) / 100)))" \
	moved "$db" 30 70
check "report --base: rows sorted by the absolute change of flat" \
	sh -c "awk '/^ *flat /{ on = NR; next } on { v = \$1 < 0 ? -\$1 : \$1; if (n++ && v > last) bad++; last = v }
		END { exit !(n > 2 && !bad) }' '$TMP/diff.txt'"
# The same numbers as go tool pprof -top -base: counts, and flat% of the
# same total (pprof prints its percentages without their signs).
go tool pprof -top -nodefraction=0 -nodecount=1000 -sample_index=samples -base "$base" "$new" \
	2>/dev/null >"$TMP/pprof_diff.txt"
for fn in burn_a burn_b worker main; do
	ours=$(awk -v fn=$fn '$6 == fn { gsub("[-+%]", "", $2); printf "%d/%d/%s", $1, $4, $2 }' "$TMP/diff.txt")
	theirs=$(awk -v fn=$fn '$6 == fn { gsub("%", "", $2); printf "%d/%d/%.2f", $1, $4, $2 }' "$TMP/pprof_diff.txt")
	# worker and main change by the difference of the totals: none (no row,
	# in pprof either) when both captures got as many samples.
	case $fn in
	worker | main) absent_ok=yes ;;
	*) absent_ok= ;;
	esac
	check "$fn: flat/cum/flat% as go tool pprof -top -base (${ours:-absent}; pprof ${theirs:-absent})" \
		test "$ours" = "$theirs" -a \( -n "$ours" -o -n "$absent_ok" \)
done
check "report --base: the total is pprof's" \
	test "$(sed -n 's/.* of \([0-9]*\) total$/\1/p' "$TMP/diff.txt")" = \
	"$(sed -n 's/.* of \([0-9]*\) total$/\1/p' "$TMP/pprof_diff.txt")"

"$BPFPROF" report --base "$base" --folded -s samples "$new" >"$TMP/fdiff.txt"
check_rc "report --base --folded exits 0" $?
"$BPFPROF" report --folded -s samples "$base" >"$TMP/f0.txt"
"$BPFPROF" report --folded -s samples "$new" >"$TMP/f1.txt"
check "report --base --folded: \"stack BASE NEW\", each side as --folded gives it" \
	sh -c "awk 'FILENAME ~ /f0/ { b[\$1] = \$2; next } FILENAME ~ /f1/ { n[\$1] = \$2; next }
		{ if (\$2 != b[\$1] + 0 || \$3 != n[\$1] + 0) bad++; seen++ }
		END { exit !(seen > 0 && !bad) }' '$TMP/f0.txt' '$TMP/f1.txt' '$TMP/fdiff.txt'"

# --- --traces: what go tool pprof -traces prints, byte for byte ---
"$BPFPROF" report --traces "$new" >"$TMP/traces.txt" 2>"$TMP/traces.err"
check_rc "report --traces exits 0" $?
go tool pprof -traces "$new" >"$TMP/pprof_traces.txt" 2>/dev/null
check "report --traces = go tool pprof -traces ($(grep -c -- '^-----' "$TMP/traces.txt") separators)" \
	cmp -s "$TMP/traces.txt" "$TMP/pprof_traces.txt"
"$BPFPROF" report --traces -s samples --base "$base" "$new" >"$TMP/traces.txt"
go tool pprof -traces -sample_index=samples -base "$base" "$new" >"$TMP/pprof_traces.txt" 2>/dev/null
check "report --traces --base = go tool pprof -traces -base" \
	cmp -s "$TMP/traces.txt" "$TMP/pprof_traces.txt"
"$BPFPROF" report --traces "$TMP/th.pb.gz" >"$TMP/traces.txt"
go tool pprof -traces "$TMP/th.pb.gz" >"$TMP/pprof_traces.txt" 2>/dev/null
check "report --traces of a threads snapshot (state, in_state labels) = go tool pprof -traces" \
	cmp -s "$TMP/traces.txt" "$TMP/pprof_traces.txt"

# --- --svg: a flame graph that XML parsers read ---
xml_ok() { python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1"; }
"$BPFPROF" report --svg "$TMP/cpu.svg" "$new" >"$TMP/svg.out" 2>&1
check_rc "report --svg exits 0" $?
check "report --svg: valid XML" xml_ok "$TMP/cpu.svg"
check "report --svg says what it wrote" grep -qx "wrote $TMP/cpu.svg" "$TMP/svg.out"
check "report --svg: burn_b's frame with its tooltip" grep -q '<title>burn_b (' "$TMP/cpu.svg"
"$BPFPROF" report --svg "$TMP/diff.svg" --base "$base" "$new" >"$TMP/svg.out" 2>&1
check_rc "report --svg --base exits 0" $?
check "report --svg --base: valid XML" xml_ok "$TMP/diff.svg"
# colour D: the fill a change D gets: red growth, green shrink.
colour() { if [ "${1:-0}" -gt 0 ]; then echo 'rgb(255,'; else echo 'rgb([0-9]*,255,[0-9]*)'; fi; }
check "report --svg --base: burn_a ($da) and burn_b ($db) coloured by their change" \
	sh -c "grep -q '<title>burn_a (new .* change .*fill=\"$(colour "$da")' '$TMP/diff.svg' &&
		grep -q '<title>burn_b (new .* change .*fill=\"$(colour "$db")' '$TMP/diff.svg'"

# --- bad input: one line, usage exit code ---
expect "report --base with other sample types" 2 'sample types differ' -- \
	"$BPFPROF" report --base "$TMP/th.pb.gz" "$new"
expect "report --folded --traces" 2 'different reports' -- \
	"$BPFPROF" report --folded --traces "$new"
expect "report --base of a file that is not a profile" 2 'not a pprof profile' -- \
	"$BPFPROF" report --base /etc/hostname "$new"
expect "report --svg into a missing directory" 2 'cannot write' -- \
	"$BPFPROF" report --svg "$TMP/none/x.svg" "$new"

# --- a stripped library: its frames are module+0xoffset ---
# lib_leaf and lib_middle without any symbol: only lib_entry is exported.
echo '{ global: lib_entry; local: *; };' >"$TMP/lib.map"
lib=$TMP/libstripped.so
if cc -O2 -g -fomit-frame-pointer -shared -fPIC -Wl,--version-script="$TMP/lib.map" \
	-o "$lib.full" tests/workloads/libnofp_lib.c 2>"$TMP/cc.err" &&
	strip --strip-all -o "$lib" "$lib.full"; then
	pass "a stripped library without lib_leaf's symbol is built"
else
	fail "cannot build the stripped library: $(cat "$TMP/cc.err")"
fi
nm_range() { nm -S "$lib.full" | awk -v s="$1" '$4 == s { print $1, $2 }'; }
read -r start size <<<"$(nm_range lib_leaf)"
need "nm finds lib_leaf in the unstripped copy" test -n "${start:-}"
need "the stripped copy has no lib_leaf" sh -c "! nm -D '$lib' | grep -q lib_leaf"
"$BPFPROF" cpu -F 499 -q -o "$TMP/strip.pb.gz" -- "$WORKLOADS/nofp_chain" 3 dlopen "$lib" \
	2>"$TMP/strip.err"
check_rc "cpu -- nofp_chain dlopen a stripped library exits 0" $?
"$BPFPROF" report --top 0 "$TMP/strip.pb.gz" >"$TMP/strip.txt"
leaf=$(awk '$6 ~ /^libstripped\.so\+0x[0-9a-f]+$/ { print $6 }' "$TMP/strip.txt" |
	while read -r name; do
		off=$((${name#*+}))
		[ "$off" -ge $((0x$start)) ] && [ "$off" -lt $((0x$start + 0x$size)) ] && echo "$name"
	done | head -1)
check "its hot frames are libstripped.so+0xOFFSET, inside lib_leaf (0x$start+0x$size): ${leaf:-none}" \
	test -n "$leaf"
go tool pprof -raw "$TMP/strip.pb.gz" >"$TMP/strip.raw" 2>/dev/null
m=$(awk '/^Mappings/ { on = 1; next } on && /libstripped\.so / { sub(":", "", $1); print $1; exit }' "$TMP/strip.raw")
check "every location of the library's mapping (M=${m:-none}) has a name, none a bare address" \
	sh -c "test -n '$m' && awk '/^Locations/ { on = 1; next } /^Mappings/ { on = 0 }
		on && \$3 == \"M=$m\" { n++; if (NF < 4) bad++ } END { exit !(n > 0 && !bad) }' '$TMP/strip.raw'"
check "go tool pprof shows the same name" \
	sh -c "go tool pprof -top -nodecount=1000 '$TMP/strip.pb.gz' 2>/dev/null | grep -q ' ${leaf:-none}\$'"
check "lib_entry keeps its name" grep -q ' lib_entry$' "$TMP/strip.txt"

finish
