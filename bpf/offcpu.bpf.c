// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Off-CPU profile (Go's block profile): on sched_switch, a target task that
 * leaves the CPU leaves its stack, state and time in the starts map under
 * its tid; when it is switched back in, the time it spent away is added to
 * the (stack key, state) entry of the blocks map.  Nothing is sent to
 * userspace per switch.
 *
 * Context switches run at 100k/s and more, for every task: a non-target
 * switch costs one hash lookup for each side and returns.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bpfprof/common.h"
#include "target.bpf.h"
#include "stack.bpf.h"
#include "follow.bpf.h"
#include "aggregate.bpf.h"

/* Task state bits (include/linux/sched.h); stable kernel ABI for tracers. */
#define TASK_UNINTERRUPTIBLE 0x0002
#define __TASK_STOPPED 0x0004
#define __TASK_TRACED 0x0008
#define TASK_DEAD 0x0080
#define TASK_NOLOAD 0x0400
#define TASK_FROZEN 0x8000

/*
 * The BPF program and bpf_trace_run4, always above the tracepoint's caller
 * (measured on 6.18): with them skipped, a stack starts at __schedule, or at
 * a __traceiter_sched_switch frame when other programs use the tracepoint
 * too, which userspace trims (collect_add_sample).
 */
#define KSKIP_BTF 2
#define KSKIP_RAW 2

const volatile __u64 min_block_ns = 0;
const volatile __u32 state_mask = (1 << OFFCPU_STATE__MAX) - 1;
/* The tracepoint passes prev_state (5.18+); else read prev->__state. */
const volatile bool prev_state_arg = true;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, __u32);	    /* tid of a target thread, until it exits */
	__type(value, struct offcpu_start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* userspace sizes it before load */
	__type(key, struct offcpu_key);
	__type(value, struct offcpu_val);
} blocks SEC(".maps");

/* Kernels before 5.14 call the field "state". */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/*
 * The state prev leaves the CPU in; -1 for a task that is exiting and will
 * never run again.  A preempted task keeps whatever state it had set (it may
 * have been about to sleep), but it is still on the run queue.
 */
static __always_inline int classify(bool preempt, __u32 state)
{
	if (state & TASK_DEAD)
		return -1;
	if (preempt || state == 0)
		return OFFCPU_RUNNABLE;
	if (state & (__TASK_STOPPED | __TASK_TRACED | TASK_FROZEN))
		return OFFCPU_STOPPED;
	/* TASK_IDLE (uninterruptible but not load) is an idle wait, not I/O. */
	if ((state & TASK_UNINTERRUPTIBLE) && !(state & TASK_NOLOAD))
		return OFFCPU_DISK;
	return OFFCPU_SLEEPING;
}

/*
 * The entry of a target thread, made on its first switch-out and kept until
 * it exits: updating it in place is much cheaper than an insert and a
 * delete per switch.  ts_ns is 0 while the thread runs.
 */
static __always_inline struct offcpu_start *thread_entry(__u32 tid)
{
	struct offcpu_start *start = bpf_map_lookup_elem(&starts, &tid), init = {};

	if (start)
		return start;
	bpf_map_update_elem(&starts, &tid, &init, BPF_NOEXIST);
	start = bpf_map_lookup_elem(&starts, &tid);
	if (!start)
		count(CNT_OFFCPU_STARTS_FULL);
	return start;
}

static __always_inline void switch_out(__u64 *ctx, struct task_struct *prev, __u32 kskip)
{
	__u32 tgid = BPF_CORE_READ(prev, tgid);
	struct offcpu_start *start;
	__u64 now;
	__u32 tid;
	int state;

	if (!is_target(tgid))
		return;
	now = bpf_ktime_get_ns();
	tid = BPF_CORE_READ(prev, pid);
	/* ctx[3] is prev_state, passed since 5.18: read only when there. */
	state = classify(ctx[0] & 1, prev_state_arg ? (__u32)ctx[3] : task_state(prev));
	if (state < 0) {
		/* Exiting: its entry goes too. */
		start = bpf_map_lookup_elem(&starts, &tid);
		if (start && start->ts_ns)
			count(CNT_OFFCPU_UNPAIRED);
		bpf_map_delete_elem(&starts, &tid);
		return;
	}
	if (!(state_mask & (1u << state)))
		return;
	start = thread_entry(tid);
	if (!start)
		return;
	/* Still set: the switch back in was not seen (some never reach tracepoints). */
	if (start->ts_ns)
		count(CNT_OFFCPU_UNPAIRED);
	note_process(tgid);
	/* prev is still the current task: its stacks and comm are at hand. */
	key_current(&start->key.key, tgid, tid);
	capture_stacks(ctx, &start->key.key, kskip);
	start->key.state = state;
	start->runtime_ns = BPF_CORE_READ(prev, se.sum_exec_runtime);
	start->ts_ns = now;
}

static __always_inline void switch_in(struct task_struct *next)
{
	__u32 tid = BPF_CORE_READ(next, pid);
	struct offcpu_val zero = {}, *v;
	struct offcpu_start *start;
	__u64 delta;

	/* Only target threads seen leaving the CPU have an entry. */
	start = bpf_map_lookup_elem(&starts, &tid);
	if (!start || !start->ts_ns)
		return;
	delta = bpf_ktime_get_ns() - start->ts_ns;
	start->ts_ns = 0;
	if (delta < min_block_ns)
		return;
	count(CNT_EVENTS);
	v = aggregate_slot(&blocks, &start->key, &zero);
	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		__sync_fetch_and_add(&v->total_ns, delta);
	}
}

/* ctx holds the tracepoint's arguments: preempt, prev, next, prev_state. */
static __always_inline int on_switch(__u64 *ctx, __u32 kskip)
{
	switch_out(ctx, (struct task_struct *)ctx[1], kskip);
	switch_in((struct task_struct *)ctx[2]);
	return 0;
}

SEC("tp_btf/sched_switch")
int switch_btf(__u64 *ctx)
{
	return on_switch(ctx, KSKIP_BTF);
}

SEC("raw_tp/sched_switch")
int switch_raw(__u64 *ctx)
{
	return on_switch(ctx, KSKIP_RAW);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
