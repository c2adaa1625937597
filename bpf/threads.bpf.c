// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Thread snapshot: a sleepable task iterator writes one thread_record per
 * target thread, with its kernel stack (bpf_get_task_stack) and its user
 * stack unwound from its saved user registers: with the shared DWARF
 * unwinder (unwind.bpf.h) where userspace loaded the process's tables, else
 * by frame pointers.  The kernel gives no user stack of another task
 * (bpf_get_task_stack returns -EOPNOTSUPP for it), so both read the task's
 * memory themselves with bpf_copy_from_user_task, which may fault pages in:
 * hence sleepable.  Nothing stops the threads; each is read where it stands.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bpfprof/common.h"
#include "bpfprof/threads.h"
#include "counters.bpf.h"
#include "target.bpf.h" /* is_target_task */
/* This program reads other tasks' stacks, and may sleep doing so. */
#define UNWIND_OTHER_TASKS
#include "unwind.bpf.h"

/* Unwind user stacks with the CFI tables of user/unwind/ (--unwind dwarf). */
const volatile bool unwind_dwarf = false;

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */

/*
 * Set by userspace for a first pass that only lists the target processes
 * (records without stacks), so it can load their unwind tables before the
 * pass that unwinds.
 */
bool list_only;

/* The record being built: too big for the 512-byte BPF stack. */
struct scratch {
	struct thread_record rec;
	__u64 kips[BPFPROF_MAX_STACK_DEPTH];
	struct stack_trace ustack;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/*
 * The user stack from the registers the task saved when it last entered the
 * kernel: unwound with its process's CFI tables when userspace loaded them
 * (--unwind dwarf), else by frame pointers.  Notes how in *flags.
 */
static __always_inline __u32 user_stack(struct task_struct *task, __u32 tgid,
					struct stack_trace *st, __u32 *flags)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct uregs r;
	int n;

	if (!regs)
		return 0;
	r.ip = BPF_CORE_READ(regs, ip);
	r.sp = BPF_CORE_READ(regs, sp);
	r.bp = BPF_CORE_READ(regs, bp);
	if (unwind_dwarf) {
		n = unwind_user(&r, tgid, task, st);
		if (n >= 0) {
			*flags |= THREAD_USTACK_CFI;
			if (st->flags & STACK_TRUNCATED)
				*flags |= THREAD_USTACK_TRUNCATED;
			return n;
		}
	}
	return unwind_user_fp(&r, task, st);
}

/*
 * The scheduler clock now, as this CPU's run queue last read it (at most a
 * tick ago: we are running here).  The rq is reached through our own task's
 * cfs_rq: `runqueues` is a per-CPU symbol that kernels without
 * CONFIG_KALLSYMS_ALL (this one) do not resolve for BPF.
 */
static __always_inline __u64 sched_now(void)
{
	struct task_struct *self = bpf_get_current_task_btf();

	if (!bpf_core_field_exists(self->se.cfs_rq))
		return 0;
	return BPF_CORE_READ(self, se.cfs_rq, rq, clock);
}

/* What the scheduler knows about when the thread last ran or was queued. */
static __always_inline void sched_times(struct task_struct *task, struct thread_record *r)
{
	__u32 policy = BPF_CORE_READ(task, policy);

	r->now_ns = sched_now();
	r->last_arrival = BPF_CORE_READ(task, sched_info.last_arrival);
	r->last_queued = BPF_CORE_READ(task, sched_info.last_queued);
	/* CFS restarts prev_sum_exec_runtime when it puts the task on a CPU. */
	if (policy == 0 /* SCHED_NORMAL */ || policy == 3 /* SCHED_BATCH */ ||
	    policy == 5 /* SCHED_IDLE */)
		r->last_run_ns = BPF_CORE_READ(task, se.sum_exec_runtime) -
				 BPF_CORE_READ(task, se.prev_sum_exec_runtime);
	else
		r->last_run_ns = 0;
}

SEC("iter.s/task")
int snapshot_thread(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct thread_record *r;
	struct scratch *s;
	__u32 zero = 0, tgid;
	/* 64-bit, so the bound checked below is the value used by bpf_seq_write. */
	__u64 nk = 0, nu = 0;
	long len;

	if (!task)
		return 0; /* the end of the iteration */
	tgid = task->tgid;
	if (tgid == 0 || !is_target_task(task, tgid))
		return 0;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	r = &s->rec;
	r->pid = tgid;
	r->tid = task->pid;
	r->state = task->__state;
	r->exit_state = task->exit_state;
	r->flags = 0;
	if (task->on_cpu)
		r->flags |= THREAD_ON_CPU;
	if (task->flags & PF_KTHREAD)
		r->flags |= THREAD_KTHREAD;
	if (!task->mm)
		r->flags |= THREAD_NO_MM;
	__builtin_memcpy(r->comm, task->comm, sizeof(r->comm));
	sched_times(task, r);
	if (list_only) {
		if (r->flags & (THREAD_KTHREAD | THREAD_NO_MM))
			return 0; /* nothing to unwind */
		r->nkern = r->nuser = 0;
		bpf_seq_write(seq, r, sizeof(*r));
		return 0;
	}

	/* A thread running elsewhere has no kernel stack to read: it is being used. */
	if (!(r->flags & THREAD_ON_CPU) || task == bpf_get_current_task_btf()) {
		len = bpf_get_task_stack(task, s->kips, sizeof(s->kips), 0);
		if (len > 0)
			nk = len / sizeof(__u64);
		else if (len < 0 && len != -14 /* EFAULT: no stack */)
			count(CNT_STACK_ERROR);
	}
	if (!(r->flags & (THREAD_KTHREAD | THREAD_NO_MM)))
		nu = user_stack(task, tgid, &s->ustack, &r->flags);
	if (nk > BPFPROF_MAX_STACK_DEPTH)
		nk = BPFPROF_MAX_STACK_DEPTH;
	if (nu > BPFPROF_MAX_STACK_DEPTH)
		nu = BPFPROF_MAX_STACK_DEPTH;
	r->nkern = nk;
	r->nuser = nu;

	/*
	 * If the seq buffer overflows, the kernel drops all three and runs us
	 * again for this task: so only failures are counted here, and userspace
	 * counts threads and missing stacks from the records.
	 */
	bpf_seq_write(seq, r, sizeof(*r));
	bpf_seq_write(seq, s->kips, nk * sizeof(__u64));
	bpf_seq_write(seq, s->ustack.ips, nu * sizeof(__u64));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
