#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: how long `bpfprof threads` takes to snapshot a process with
# 10, 100 and 1000 parked threads, and the whole system (-a), with DWARF
# unwinding (the default) and with frame pointers only, rounds interleaved:
# the unwind tables loaded before the snapshot (dwarf only: read the targets'
# maps, build the tables of their files), the snapshot itself (attach the
# task iterator, walk every thread, read the records), the BPF run time per
# thread (kernel stack + user stack), and the whole command (load, tables,
# snapshot, symbolize, write).  The target is never stopped.
# Not a test: nothing here passes or fails.
set -eu
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-5}
tmp=$(mktemp -d)
wpid=
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; rm -rf "$tmp"' EXIT

# run MODE ARGS...: one snapshot; appends its numbers to $tmp/MODE.*
run() {
	local mode=$1
	shift
	/usr/bin/time -f '%e' -o "$tmp/time" build/bpfprof threads "$@" --unwind "$mode" -v \
		--top 0 -o "$tmp/t.pb.gz" >"$tmp/out" 2>"$tmp/log"
	sed -n 's/^bpfprof: unwind tables of [0-9]* processes loaded in \([0-9.]*\) ms$/\1/p' \
		"$tmp/log" >>"$tmp/$mode.tables"
	sed -n 's/^bpfprof: snapshot: [0-9]* bytes in \([0-9.]*\) ms$/\1/p' "$tmp/log" >>"$tmp/$mode.snap"
	sed -n 's/^bpfprof: snapshot: BPF ran [0-9]* times, \([0-9.]*\) us each$/\1/p' \
		"$tmp/log" >>"$tmp/$mode.bpf"
	sed -n 's/^wrote .* (\([0-9]*\) threads,.*/\1/p' "$tmp/out" >"$tmp/threads"
	cat "$tmp/time" >>"$tmp/$mode.cmd"
}

# measure LABEL ARGS...: ROUNDS interleaved rounds of both modes, one row each.
measure() {
	local label=$1 mode
	shift
	for mode in dwarf fp; do
		: >"$tmp/$mode.tables"
		: >"$tmp/$mode.snap"
		: >"$tmp/$mode.bpf"
		: >"$tmp/$mode.cmd"
	done
	for _ in $(seq "$ROUNDS"); do
		run dwarf "$@"
		run fp "$@"
	done
	for mode in dwarf fp; do
		printf "%12s %6s %10s %12s %14s %10s\n" "$label ($(cat "$tmp/threads"))" "$mode" \
			"$(m "$mode.tables")" "$(m "$mode.snap")" "$(m "$mode.bpf")" "$(m "$mode.cmd")"
	done
}

# m FILE: the median of the numbers in $tmp/FILE, or "-".
m() {
	local v
	v=$(median <"$tmp/$1")
	echo "${v:--}"
}

printf "%12s %6s %10s %12s %14s %10s\n" threads unwind "tables ms" "snapshot ms" "BPF us/thread" \
	"command s"
for n in 10 100 1000; do
	build/workloads/parked "$n" 2>"$tmp/w.err" &
	wpid=$!
	for _ in $(seq 100); do grep -q '^ready' "$tmp/w.err" && break; sleep 0.05; done
	measure "-p" -p "$wpid"
	kill "$wpid"
	wait "$wpid" 2>/dev/null || true
	wpid=
done
measure "-a" -a
