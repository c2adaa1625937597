// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Off-CPU profile (Go's block profile) from sched_switch: the time each
 * target thread spends switched out, summed per (stack key, state) in the
 * blocks map.  Nothing is sent to userspace per switch.  Two modes:
 *
 * - exact (block_rate_ns == 0, and the raw_tp fallback): a target thread
 *   leaving the CPU leaves its stacks, state and time in the starts map;
 *   when it is switched back in, the time away is added to that key.  Taking
 *   two stacks costs ~5 us per switch.
 * - sampled (the default; see offcpu.bpf.h): a switch-out only notes the
 *   time; the switch-in knows the interval's length and keeps it with Go's
 *   rule, probability min(1, length / rate), weight rate / length.  Only a
 *   kept interval pays for stacks, taken where the thread stands still: the
 *   kernel stack of the sleeping thread at its switch-in, the user stack
 *   there too when prev is a thread of the same process, else from its own
 *   context just before it returns to user space (a task work, on_resume).
 *   offcpu_end.bpf.c settles the intervals still open at the end.
 *
 * Context switches run at 100k/s and more, for every task: a non-target
 * switch costs two bitmap lookups the verifier inlines and returns.
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
#include "offcpu.bpf.h"

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

const volatile __u32 state_mask = (1 << OFFCPU_STATE__MAX) - 1;
/* The tracepoint passes prev_state (5.18+); else read prev->__state. */
const volatile bool prev_state_arg = true;
/* Set by userspace when the capture is over: late task works record nothing. */
bool ended;

extern int bpf_task_work_schedule_resume_impl(struct task_struct *task, struct bpf_task_work *tw,
					      void *map__map, bpf_task_work_callback_t callback,
					      void *aux__prog) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, __u32);	    /* tid of a target thread, until it exits */
	__type(value, struct offcpu_start);
} starts SEC(".maps");

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

/* ctx holds the tracepoint's arguments: preempt, prev, next, prev_state. */
static __always_inline int prev_class(__u64 *ctx, struct task_struct *prev)
{
	/* ctx[3] is prev_state, passed since 5.18: read only when there. */
	return classify(ctx[0] & 1, prev_state_arg ? (__u32)ctx[3] : task_state(prev));
}

/*
 * A thread that may be a target, from its tgid alone: the switch-in side
 * cannot ask bpf_current_task_under_cgroup (current is prev), so for a
 * cgroup the per-thread entry decides.
 */
static __always_inline bool maybe_target(__u32 tgid)
{
	if (target_mode == TARGET_PIDS)
		return pid_is_target(tgid);
	return tgid != 0;
}

/*
 * The slot of tid, a thread of the current process tgid, taken now if it
 * has none; NULL (counted) when there is no room.  A new thread's process is
 * reported then, at its first switch-out: by its first kept interval the
 * process may be gone (a short-lived child), its mappings unread.
 */
static __always_inline struct offcpu_thread *thread_claim(__u32 tid, __u32 tgid)
{
	struct offcpu_thread init = { .tid = tid }, *t;
	__u32 i = tid & slot_mask;

	t = bpf_map_lookup_elem(&slots, &i);
	if (!t)
		return NULL;
	if (t->tid == tid)
		return t;
	if (!slots_cover_pids) {
		struct offcpu_thread *o = bpf_map_lookup_elem(&slot_overflow, &tid);

		if (o)
			return o;
	}
	note_process(tgid);
	/* Free: only the thread itself claims it, but a colliding one may race. */
	if (!t->tid && __sync_val_compare_and_swap(&t->tid, 0, tid) == 0) {
		t->ts_ns = 0;
		t->rng = 0;
		return t;
	}
	bpf_map_update_elem(&slot_overflow, &tid, &init, BPF_NOEXIST);
	t = bpf_map_lookup_elem(&slot_overflow, &tid);
	if (!t)
		count(CNT_OFFCPU_STARTS_FULL);
	return t;
}

/*
 * Runs in the thread, on its way back to user space: the registers saved in
 * p and the stack above them are those it had when it left the CPU.
 */
static int on_resume(struct bpf_map *map, void *key, void *value)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pending *p = value;
	struct offcpu_key k = {};
	__u32 tid = *(__u32 *)key, i;
	struct uregs r;

	p->scheduled = 0;
	if (ended)
		return 0; /* in_progress settles it */
	key_task(&k, task, tid, 0);
	if (task->pid != tid) {
		pending_drop(p, &k);
		return 0;
	}
	r.ip = p->ip;
	r.sp = p->sp;
	r.bp = p->bp;
	k.key.user_stack = capture_user ? user_stack_at(task, &r) : STACK_ID_NONE;
	for (i = 0; i < PENDING_MAX; i++) {
		if (i >= p->n)
			break;
		k.key.kern_stack = p->blocks[i].kern_stack;
		k.state = p->blocks[i].state;
		add_block(&k, p->blocks[i].count, p->blocks[i].total_ns);
	}
	p->n = 0;
	note_process(k.key.pid);
	return 0;
}

/* The pending entry of a thread, made on its first kept interval. */
static __always_inline struct pending *pending_entry(struct task_struct *task, __u32 tid,
						     struct offcpu_key *k)
{
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);
	struct pending init = {};

	if (!p) {
		init.start_time = task->start_time;
		bpf_map_update_elem(&pending, &tid, &init, BPF_NOEXIST);
		return bpf_map_lookup_elem(&pending, &tid);
	}
	if (p->start_time != task->start_time) {
		/* Left by a thread that exited unseen: this is a new one. */
		pending_drop(p, k);
		p->start_time = task->start_time;
		p->scheduled = 0;
	}
	return p;
}

/* Adds a kept interval to p; false when p is full. */
static __always_inline bool pending_add(struct pending *p, __u64 kern_stack, __u32 state,
					__u64 contentions, __u64 total_ns)
{
	struct pending_block *b;
	__u32 i;

	for (i = 0; i < PENDING_MAX; i++) {
		if (i >= p->n)
			break;
		b = &p->blocks[i];
		if (b->kern_stack == kern_stack && b->state == state) {
			b->count += contentions;
			b->total_ns += total_ns;
			return true;
		}
	}
	if (p->n >= PENDING_MAX)
		return false;
	b = &p->blocks[p->n & (PENDING_MAX - 1)];
	b->kern_stack = kern_stack;
	b->state = state;
	b->count = contentions;
	b->total_ns = total_ns;
	p->n++;
	return true;
}

/*
 * A kept interval of next, which is about to run: its kernel stack now; its
 * user stack now too when prev shares its address space (prev's, the one
 * loaded, is where user reads go), else on its way back to user space.
 */
static __always_inline void record_kept(struct task_struct *prev, struct task_struct *next,
					__u32 tid, __u32 state, __u64 contentions, __u64 total_ns)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(next);
	struct offcpu_key k = {};
	struct pending *p;
	struct uregs r;

	key_task(&k, next, tid, state);
	k.key.kern_stack = capture_kernel ? task_kernel_stack(next) : STACK_ID_NONE;
	if (!capture_user || !next->mm) {
		if (capture_user)
			count(CNT_USTACK_NONE); /* a kernel thread */
		k.key.user_stack = STACK_ID_NONE;
		add_block(&k, contentions, total_ns);
		note_process_of(k.key.pid, next);
		return;
	}
	if (next->mm == prev->mm) {
		/* A thread of the same process: its stack is readable from here. */
		r.ip = regs->ip;
		r.sp = regs->sp;
		r.bp = regs->bp;
		k.key.user_stack = user_stack_at(next, &r);
		add_block(&k, contentions, total_ns);
		note_process(k.key.pid);
		return;
	}
	p = pending_entry(next, tid, &k);
	if (!p) {
		add_lost(&k, contentions, total_ns);
		return;
	}
	if (!p->n) {
		p->ip = regs->ip;
		p->sp = regs->sp;
		p->bp = regs->bp;
	}
	if (!pending_add(p, k.key.kern_stack, state, contentions, total_ns)) {
		add_lost(&k, contentions, total_ns);
		return;
	}
	if (p->scheduled)
		return;
	if (bpf_task_work_schedule_resume_impl(next, &p->tw, &pending, on_resume, NULL)) {
		pending_drop(p, &k);
		return;
	}
	p->scheduled = 1;
}

/* The thread leaves the CPU for good: its slot and its pending entry go. */
static __always_inline void thread_exit(struct task_struct *task, __u32 tid)
{
	struct offcpu_key k = {};
	struct offcpu_thread *t;
	__u32 i = tid & slot_mask;
	struct pending *p;

	t = bpf_map_lookup_elem(&slots, &i);
	if (t && t->tid == tid) {
		if (t->ts_ns)
			count(CNT_OFFCPU_UNPAIRED);
		t->ts_ns = 0;
		t->tid = 0;
	} else if (!slots_cover_pids) {
		bpf_map_delete_elem(&slot_overflow, &tid);
	}
	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return;
	if (p->n) {
		key_task(&k, task, tid, 0);
		pending_drop(p, &k);
	}
	bpf_map_delete_elem(&pending, &tid);
}

/* A switch-out of a target: the time, the state, the CPU time so far. */
static __always_inline __u64 sampled_out(__u64 *ctx, struct task_struct *prev)
{
	struct offcpu_thread *t;
	__u32 tid = prev->pid;
	int state = prev_class(ctx, prev);
	__u64 now;

	if (state < 0) {
		thread_exit(prev, tid);
		return 0;
	}
	if (!(state_mask & (1u << state)))
		return 0;
	/* A launched command held at its entry point by bpfprof: not its own wait. */
	if (state == OFFCPU_STOPPED && stopped_by_entry_stop(tid))
		return 0;
	t = thread_claim(tid, prev->tgid);
	if (!t)
		return 0;
	/* Still set: the switch back in was not seen (some never reach tracepoints). */
	if (t->ts_ns)
		count(CNT_OFFCPU_UNPAIRED);
	now = bpf_ktime_get_ns();
	t->state = state;
	t->runtime_ns = prev->se.sum_exec_runtime;
	t->ts_ns = now;
	return now;
}

/* A switch-in of a thread with a slot: the interval ends; keep it or not. */
static __always_inline void sampled_in(struct task_struct *prev, struct task_struct *next,
				       __u64 now)
{
	__u32 tid = next->pid;
	struct offcpu_thread *t = thread_find(tid);
	__u64 d, contentions, total_ns;

	if (!t || !t->ts_ns)
		return;
	d = (now ?: bpf_ktime_get_ns()) - t->ts_ns;
	t->ts_ns = 0;
	if (d < min_block_ns)
		return;
	count(CNT_EVENTS);
	if (!keep_interval(t, d, &contentions, &total_ns))
		return;
	count(CNT_OFFCPU_KEPT);
	record_kept(prev, next, tid, t->state, contentions, total_ns);
}

static __always_inline int sampled_switch(__u64 *ctx, struct task_struct *prev,
					  struct task_struct *next)
{
	__u64 now = 0;

	if (is_target(prev->tgid))
		now = sampled_out(ctx, prev);
	if (maybe_target(next->tgid))
		sampled_in(prev, next, now);
	return 0;
}

/*
 * Exact mode: the entry of a target thread, made on its first switch-out
 * and kept until it exits: updating it in place is much cheaper than an
 * insert and a delete per switch.  ts_ns is 0 while the thread runs.
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

/*
 * Returns the time it read, for switch_in: taken before the stacks, so the
 * thread switched in is not charged the time they take.
 */
static __always_inline __u64 switch_out(__u64 *ctx, struct task_struct *prev, __u32 kskip)
{
	__u32 tgid = BPF_CORE_READ(prev, tgid);
	struct offcpu_start *start;
	__u64 now;
	__u32 tid;
	int state;

	if (!is_target(tgid))
		return 0;
	now = bpf_ktime_get_ns();
	tid = BPF_CORE_READ(prev, pid);
	state = prev_class(ctx, prev);
	if (state < 0) {
		/* Exiting: its entry goes too. */
		start = bpf_map_lookup_elem(&starts, &tid);
		if (start && start->ts_ns)
			count(CNT_OFFCPU_UNPAIRED);
		bpf_map_delete_elem(&starts, &tid);
		return now;
	}
	if (!(state_mask & (1u << state)))
		return now;
	if (state == OFFCPU_STOPPED && stopped_by_entry_stop(tid))
		return now;
	start = thread_entry(tid);
	if (!start)
		return now;
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
	return now;
}

/* now: switch_out's time, or 0 when it read none. */
static __always_inline void switch_in(struct task_struct *next, __u64 now)
{
	struct offcpu_start *start;
	__u64 delta;
	__u32 tid;

	/* Only target threads seen leaving the CPU have an entry. */
	if (!maybe_target(BPF_CORE_READ(next, tgid)))
		return;
	tid = BPF_CORE_READ(next, pid);
	start = bpf_map_lookup_elem(&starts, &tid);
	if (!start || !start->ts_ns)
		return;
	delta = (now ?: bpf_ktime_get_ns()) - start->ts_ns;
	start->ts_ns = 0;
	if (delta < min_block_ns)
		return;
	count(CNT_EVENTS);
	add_block(&start->key, 1ULL << OFFCPU_COUNT_SHIFT, delta);
}

/* raw_tp: the arguments are plain numbers, not trusted pointers: exact mode only. */
TP_PROG(switch, sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (tp_btf && block_rate_ns)
		return sampled_switch(ctx, prev, next);
	switch_in(next, switch_out(ctx, prev, tp_btf ? KSKIP_BTF : KSKIP_RAW));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
