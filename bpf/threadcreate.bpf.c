// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Thread creation profile (Go's threadcreate profile): on every fork, vfork
 * or clone of a target, the parent's stacks are counted per (stack key,
 * thread or process).  The parent is the current task in
 * sched_process_fork.  The same program follows children (follow.bpf.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bpfprof/common.h"
#include "target.bpf.h"
#include "stack.bpf.h"
#define BPFPROF_OWN_FORK_PROGRAMS
#include "follow.bpf.h"
#include "aggregate.bpf.h"

/*
 * The BPF program and bpf_trace_run2, always above the tracepoint's caller
 * (measured on 6.18).  A __traceiter_ frame may follow, depending on how
 * many programs use the tracepoint: userspace trims it (collect_add_sample).
 */
#define KSKIP_BTF 2
#define KSKIP_RAW 2

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, struct threadcreate_key);
	__type(value, __u64); /* creations */
} creates SEC(".maps");

static __always_inline void on_create(void *ctx, struct task_struct *parent,
				      struct task_struct *child, __u32 kskip)
{
	__u32 tgid = BPF_CORE_READ(parent, tgid);
	struct threadcreate_key key = {};
	__u64 zero = 0, *v;

	if (!is_target(tgid))
		return;
	count(CNT_EVENTS);
	note_process(tgid);
	key_current(&key.key, tgid, BPF_CORE_READ(parent, pid));
	capture_stacks(ctx, &key.key, kskip);
	/* A new thread joins its parent's group: its pid is not its tgid. */
	key.kind = BPF_CORE_READ(child, pid) == BPF_CORE_READ(child, tgid) ? CREATE_PROCESS
									   : CREATE_THREAD;
	v = aggregate_slot(&creates, &key, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
}

TP_PROG(fork, sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	on_create(ctx, parent, child, tp_btf ? KSKIP_BTF : KSKIP_RAW);
	return on_fork(parent, child);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
