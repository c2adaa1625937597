#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: how long `bpfprof threads` takes to snapshot a process with
# 10, 100 and 1000 parked threads: the snapshot itself (attach the task
# iterator, walk every thread, read the records), the BPF run time per thread
# (kernel stack + frame-pointer walk of the user stack), and the whole
# command (load, snapshot, symbolize, write).  The target is never stopped.
# Not a test: nothing here passes or fails.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

ROUNDS=${ROUNDS:-5}
tmp=$(mktemp -d)
wpid=
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; rm -rf "$tmp"' EXIT

median() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "" }'
}

printf "%8s %14s %16s %12s\n" threads "snapshot ms" "BPF us/thread" "command s"
for n in 10 100 1000; do
	build/workloads/parked "$n" 2>"$tmp/w.err" &
	wpid=$!
	for _ in $(seq 100); do grep -q '^ready' "$tmp/w.err" && break; sleep 0.05; done
	: >"$tmp/snap"
	: >"$tmp/bpf"
	: >"$tmp/cmd"
	for _ in $(seq "$ROUNDS"); do
		/usr/bin/time -f '%e' -o "$tmp/time" build/bpfprof threads -p "$wpid" -v --top 0 \
			-o "$tmp/t.pb.gz" >/dev/null 2>"$tmp/log"
		sed -n 's/^bpfprof: snapshot: [0-9]* bytes in \([0-9.]*\) ms$/\1/p' "$tmp/log" >>"$tmp/snap"
		sed -n 's/^bpfprof: snapshot: BPF ran [0-9]* times, \([0-9.]*\) us each$/\1/p' \
			"$tmp/log" >>"$tmp/bpf"
		cat "$tmp/time" >>"$tmp/cmd"
	done
	printf "%8d %14s %16s %12s\n" $((n + 1)) "$(median <"$tmp/snap")" "$(median <"$tmp/bpf")" \
		"$(median <"$tmp/cmd")"
	kill "$wpid"
	wait "$wpid" 2>/dev/null || true
	wpid=
done
