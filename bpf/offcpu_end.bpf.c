// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * offcpu's closing pass in sampled mode: the threads still off the CPU when
 * the capture ends.  A separate object because it reads other tasks' stacks
 * (a sleepable task iterator, the unwinder's UNWIND_OTHER_TASKS variant),
 * which the switch programs must not; userspace loads it after the capture
 * with the maps of offcpu.bpf.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bpfprof/common.h"
#include "target.bpf.h"
#define UNWIND_OTHER_TASKS
#include "stack.bpf.h"
#include "aggregate.bpf.h"
#include "offcpu.bpf.h"

/* CLOCK_MONOTONIC at the end of the capture. */
__u64 end_ns;
/* Intervals found still going on. */
__u64 in_progress_count;

struct stale_scan {
	__u64 n;
};

static long stale_slot(__u64 i, void *data)
{
	struct stale_scan *s = data;
	__u32 key = i;
	struct offcpu_thread *t = bpf_map_lookup_elem(&slots, &key);

	if (!t)
		return 1;
	if (t->ts_ns)
		s->n++;
	return 0;
}

static long stale_overflow(struct bpf_map *map, __u32 *tid, struct offcpu_thread *t,
			   struct stale_scan *s)
{
	if (t->ts_ns)
		s->n++;
	return 0;
}

/*
 * After the live threads: a slot still holding a time belongs to a thread
 * gone without its exit being seen.  Its interval is lost, and counted.
 */
static __always_inline void count_stale(void)
{
	struct stale_scan s = {};
	__u32 key = CNT_OFFCPU_UNPAIRED;
	__u64 *c;

	bpf_loop(slot_mask + 1, stale_slot, &s, 0);
	if (!slots_cover_pids)
		bpf_for_each_map_elem(&slot_overflow, stale_overflow, &s, 0);
	c = bpf_map_lookup_elem(&counters, &key);
	if (c)
		*c += s.n;
}

/*
 * Run by userspace once per task when the capture is over (the switch
 * programs detached, `ended` set in theirs): an interval still going on
 * counts up to end_ns, sampled as any other.  The thread is not running:
 * its kernel stack and its user stack (DWARF unwinding through
 * bpf_copy_from_user_task) are read from here, where it waits.  Kept
 * intervals still waiting for their user stack are recorded without it:
 * the thread may have run user code since.
 */
SEC("iter.s/task")
int in_progress(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct offcpu_key k = {};
	struct offcpu_thread *t;
	__u64 d, contentions, total_ns;
	struct pt_regs *regs;
	struct pending *p;
	struct uregs r;
	__u32 tid;

	if (!task) {
		count_stale();
		return 0;
	}
	tid = task->pid;
	p = bpf_map_lookup_elem(&pending, &tid);
	if (p && p->n) {
		key_task(&k, task, tid, 0);
		pending_drop(p, &k);
	}
	t = thread_find(tid);
	if (!t || !t->ts_ns)
		return 0;
	/* It has run since it left: its switch back in was not seen. */
	if (task->se.sum_exec_runtime > t->runtime_ns) {
		count(CNT_OFFCPU_UNPAIRED);
		t->ts_ns = 0;
		return 0;
	}
	d = end_ns > t->ts_ns ? end_ns - t->ts_ns : 0;
	t->ts_ns = 0;
	if (!d) /* begun after the capture's window: nothing of it is in it */
		return 0;
	if (d < min_block_ns || !keep_interval(t, d, &contentions, &total_ns))
		return 0;
	key_task(&k, task, tid, t->state);
	k.key.kern_stack = capture_kernel ? task_kernel_stack(task) : STACK_ID_NONE;
	k.key.user_stack = STACK_ID_NONE;
	if (capture_user) {
		regs = (struct pt_regs *)bpf_task_pt_regs(task);
		r.ip = regs->ip;
		r.sp = regs->sp;
		r.bp = regs->bp;
		k.key.user_stack = user_stack_at(task, &r);
	}
	add_block(&k, contentions, total_ns);
	__sync_fetch_and_add(&in_progress_count, 1);
	note_process_of(k.key.pid, task);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
