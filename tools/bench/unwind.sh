#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# DWARF unwinding: BPF cost per sample (fp vs dwarf), table size and build
# time for real processes, and stack completeness next to perf's
# --call-graph dwarf on the same workload.  Not a test.
set -eu
cd "$(dirname "$0")/../.."
. tools/bench/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
tmp=$(mktemp -d)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'rm -rf "$tmp"; sysctl -q kernel.bpf_stats_enabled=$old_stats' EXIT
sysctl -q kernel.bpf_stats_enabled=1
w=build/workloads/nofp_chain

# ns per run of the sampling program while profiling nofp_chain (all samples hit it).
bpf_ns() {
	"$w" 4 chain 2>/dev/null &
	local pid=$!
	build/bpfprof cpu -p "$pid" -F 999 -q -o "$tmp/b.pb.gz" --unwind "$1" &
	local prof=$!
	sleep 3
	bpf_stats_named on_cpu_sample | cut -d' ' -f1 | tr -d '\n'
	wait "$pid" "$prof" 2>/dev/null || true
}

# Share of the samples in LEAF whose stack reaches main, from a pprof file.
complete_pprof() {
	go tool pprof -top -nodecount=1000 -focus="^$2\$" "$1" 2>/dev/null |
		awk -v leaf="$2" '{ sub("%", "", $5); c[$6] = $5 } END { if (c[leaf]) printf "%.1f%%", 100 * c["main"] / c[leaf]; else print "-" }'
}

# The same from perf script: samples whose first frame is LEAF.
complete_perf() {
	perf script -i "$1" 2>/dev/null | awk -v leaf="$2" '
		/^[^ \t]/ { if (n) { tot += (first == leaf); hit += (first == leaf && m) } n = 0; m = 0; next }
		NF >= 2 { n++; split($2, a, "+"); if (n == 1) first = a[1]; if (a[1] == "main") m = 1 }
		END { if (n) { tot += (first == leaf); hit += (first == leaf && m) } if (tot) printf "%.1f%%", 100 * hit / tot; else print "-" }'
}

fp=$(bpf_ns fp)
dw=$(bpf_ns dwarf)

build/bpfprof cpu -F 499 -q -o "$tmp/d.pb.gz" -- "$w" 3 chain 2>/dev/null
build/bpfprof cpu -F 499 -q -o "$tmp/f.pb.gz" --unwind fp -- "$w" 3 chain 2>/dev/null
perf record -q -F 499 --call-graph dwarf -o "$tmp/perf.data" -- "$w" 3 chain 2>/dev/null >/dev/null
perf record -q -F 499 -g -o "$tmp/perffp.data" -- "$w" 3 chain 2>/dev/null >/dev/null

# Tables for a process that maps libLLVM (clang compiling for a second or
# two), from bpfprof's own report.
for i in $(seq 3000); do echo "int f$i(int x) { return x * $i + (x >> 3); }"; done >"$tmp/big.c"
build/bpfprof cpu -v -F 99 --top 0 -o "$tmp/c.pb.gz" -- clang -O2 -c "$tmp/big.c" -o "$tmp/big.o" \
	>"$tmp/clang.log" 2>&1 || true
tables=$(sed -n 's/^bpfprof: unwind tables: //p' "$tmp/clang.log" | head -n1)
llvm=$(sed -n 's/^bpfprof: .*\/\(libLLVM[^:]*\): unwind table of \([0-9]*\) rows.*/\1 \2/p' "$tmp/clang.log" | head -n1)
libc=$(build/bpfprof cpu -v -F 99 --top 0 -o "$tmp/c.pb.gz" -- "$w" 0.2 chain 2>&1 >/dev/null |
	sed -n 's/^bpfprof: .*\/\(libc.so.6\): unwind table of \([0-9]*\) rows.*/\1 \2/p' | head -n1)

echo "| measure | frame pointers | DWARF CFI |"
echo "|---|---|---|"
echo "| BPF ns per sample (nofp_chain, 999 Hz) | ${fp:-?} | ${dw:-?} |"
echo "| hot_leaf samples reaching main: bpfprof | $(complete_pprof "$tmp/f.pb.gz" hot_leaf) | $(complete_pprof "$tmp/d.pb.gz" hot_leaf) |"
echo "| hot_leaf samples reaching main: perf record | $(complete_perf "$tmp/perffp.data" hot_leaf) (-g) | $(complete_perf "$tmp/perf.data" hot_leaf) (--call-graph dwarf) |"
echo
echo "tables: ${libc:-libc ?} rows (8 bytes a row); ${llvm:-libLLVM ?} rows; clang's whole process: ${tables:-?}"
