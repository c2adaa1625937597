#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shared by tools/bench/*.sh (sourced): BPF run time from bpftool, and medians.

# bpf_stats_named NAME: "ns-per-run runs" of the loaded programs called NAME,
# from kernel.bpf_stats_enabled; "- 0" when none has run.
bpf_stats_named() {
	bpftool prog show -j 2>/dev/null | tr '{' '\n' | grep "\"name\":\"$1\"" | bpf_stats_sum
}

# bpf_stats_ids ID...: the same for these program ids.
bpf_stats_ids() {
	local id
	for id in "$@"; do
		bpftool prog show id "$id" -j 2>/dev/null
		echo
	done | bpf_stats_sum
}

bpf_stats_sum() {
	sed -n 's/.*"run_time_ns":\([0-9]*\),"run_cnt":\([0-9]*\).*/\1 \2/p' |
		awk '$2 > 0 { t += $1; c += $2 } END { if (c) printf "%.0f %d\n", t / c, c; else print "- 0" }'
}

# median < VALUES (space or newline separated): the median, or nothing.
median() {
	tr ' ' '\n' | grep -E '^-?[0-9.]+$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'
}
