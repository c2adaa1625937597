/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What offcpu.bpf.c (the switch programs) and offcpu_end.bpf.c (the pass
 * over the threads still off-CPU at the end) share: the configuration, the
 * maps (userspace gives the second object the first one's), and recording
 * an interval: Go's sampling rule, the stacks of a thread that is not
 * running, the blocks map.
 *
 * Sampling: Go's block profile keeps a blocking event of d ns with
 * probability min(1, d / rate) and weighs a kept short one rate / d, an
 * unbiased estimate whose variance per event, d * (rate - d), shrinks with
 * d.  The length is known only when the thread runs again, so a switch-out
 * notes only the time, in the thread's slot (an array indexed by tid); the
 * stacks are taken for kept intervals only, while the thread still stands
 * where it waited (offcpu.bpf.c says how).
 */
#ifndef BPFPROF_OFFCPU_BPF_H
#define BPFPROF_OFFCPU_BPF_H

/* The most slots; tid & slot_mask picks one.  A power of two. */
#define OFFCPU_SLOTS_MAX 65536
/* Kept intervals of one thread waiting for its user stack. */
#define PENDING_MAX 4

const volatile __u64 min_block_ns = 0;
/* Sampling rate (ns), as Go's runtime.SetBlockProfileRate; 0: exact. tp_btf only. */
const volatile __u64 block_rate_ns = 0;
const volatile __u32 slot_mask = OFFCPU_SLOTS_MAX - 1;
/* pid_max <= slot_mask + 1: every tid has a slot of its own, no overflow map. */
const volatile bool slots_cover_pids = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* userspace sizes it before load */
	__type(key, struct offcpu_key);
	__type(value, struct offcpu_val);
} blocks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OFFCPU_SLOTS_MAX); /* userspace sizes it: slot_mask + 1 */
	__type(key, __u32);		       /* tid & slot_mask */
	__type(value, struct offcpu_thread);
} slots SEC(".maps");

/* Threads whose slot another live thread holds (tids equal modulo the slots). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, __u32);	    /* tid */
	__type(value, struct offcpu_thread);
} slot_overflow SEC(".maps");

struct pending_block {
	__u64 kern_stack; /* stack id */
	__u64 count;	  /* as offcpu_val */
	__u64 total_ns;
	__u32 state;
	__u32 pad;
};

/* BPF only: userspace never reads it (the in_progress pass settles what is left). */
struct pending {
	__u64 start_time; /* task->start_time of the owner: a new thread may reuse the tid */
	__u64 ip, sp, bp; /* user registers saved at its kernel entry */
	__u32 n;	  /* blocks waiting */
	__u32 scheduled;  /* on_resume() is scheduled */
	struct pending_block blocks[PENDING_MAX];
	struct bpf_task_work tw;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, __u32);	    /* tid */
	__type(value, struct pending);
} pending SEC(".maps");

/* Adds an interval (or a sampled estimate of some) to key's slot of the blocks map. */
static __always_inline void add_block(struct offcpu_key *key, __u64 contentions, __u64 total_ns)
{
	struct offcpu_val zero = {}, *v;

	v = aggregate_slot(&blocks, key, &zero);
	if (v) {
		__sync_fetch_and_add(&v->count, contentions);
		__sync_fetch_and_add(&v->total_ns, total_ns);
	}
}

/* The slot of tid, or NULL when it has none. */
static __always_inline struct offcpu_thread *thread_find(__u32 tid)
{
	__u32 i = tid & slot_mask;
	struct offcpu_thread *t = bpf_map_lookup_elem(&slots, &i);

	if (t && t->tid == tid)
		return t;
	if (slots_cover_pids)
		return NULL;
	return bpf_map_lookup_elem(&slot_overflow, &tid);
}

/* A draw for the sampling decision: xorshift64, seeded on first use. */
static __always_inline __u64 thread_random(struct offcpu_thread *t)
{
	__u64 x = t->rng;

	if (!x)
		x = (__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32() | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rng = x;
	return x;
}

/*
 * Go's rule: an interval of d >= rate is kept as it is; a shorter one with
 * probability d / rate, as rate / d intervals of rate ns in all.  The
 * products stay below 2^64: rate < 2^32 (userspace caps it at 1 s).
 */
static __always_inline bool keep_interval(struct offcpu_thread *t, __u64 d, __u64 *contentions,
					  __u64 *total_ns)
{
	if (d >= block_rate_ns) {
		*contentions = 1ULL << OFFCPU_COUNT_SHIFT;
		*total_ns = d;
		return true;
	}
	if (!d)
		d = 1;
	if ((thread_random(t) >> 32) * block_rate_ns >= d << 32)
		return false;
	*contentions = (block_rate_ns << OFFCPU_COUNT_SHIFT) / d;
	*total_ns = block_rate_ns;
	return true;
}

static __always_inline void key_task(struct offcpu_key *k, struct task_struct *task, __u32 tid,
				     __u32 state)
{
	k->key.pid = task->tgid;
	k->key.tid = per_thread ? tid : 0;
	__builtin_memcpy(k->key.comm, task->comm, sizeof(k->key.comm));
	k->state = state;
}

/*
 * The kernel stack of a task that is not running.  The kernel leaves the
 * scheduler's own functions out (__schedule, schedule_timeout, ...: the
 * __sched section), as in /proc/PID/stack; userspace trims them from exact
 * mode's stacks to match.  Every frame is a return address, the first too:
 * it is stored minus one, as the symbolizer treats the others.
 */
static __always_inline __u64 task_kernel_stack(struct task_struct *task)
{
	struct stack_trace *st = stack_buffer();
	long len;

	if (!st)
		return STACK_ID_ERROR;
	len = bpf_get_task_stack(task, st->ips, sizeof(st->ips), 0);
	if (len <= 0) {
		count(CNT_KSTACK_NONE);
		return len == 0 ? STACK_ID_NONE : STACK_ID_ERROR;
	}
	st->nr = len / sizeof(__u64);
	st->flags = 0;
	st->ips[0] -= 1;
	return store_stack(st);
}

/*
 * The user stack of task from its saved registers r (task is the current
 * task unless UNWIND_OTHER_TASKS): with the DWARF unwinder where the process
 * has tables, else by frame pointers, as the kernel walks them.
 */
static __always_inline __u64 user_stack_at(struct task_struct *task, const struct uregs *r)
{
	struct stack_trace *st;
	int n;

	if (!task->mm) {
		count(CNT_USTACK_NONE); /* a kernel thread, or one past exit_mm() */
		return STACK_ID_NONE;
	}
	st = stack_buffer();
	if (!st)
		return STACK_ID_ERROR;
	n = unwind_user(r, task->tgid, task, st);
	if (n < 0)
		n = unwind_user_fp(r, task, st);
	if (n <= 0) {
		count(CNT_USTACK_NONE);
		return STACK_ID_NONE;
	}
	return store_stack(st);
}

/* A kept interval whose user stack will not be read: kept with a marker instead. */
static __always_inline void add_lost(struct offcpu_key *k, __u64 contentions, __u64 total_ns)
{
	count(CNT_OFFCPU_USTACK_LOST);
	k->key.user_stack = STACK_ID_ERROR;
	add_block(k, contentions, total_ns);
}

/* Records p's blocks without their user stack; k has the thread's part of the key. */
static __always_inline void pending_drop(struct pending *p, struct offcpu_key *k)
{
	__u32 i;

	for (i = 0; i < PENDING_MAX; i++) {
		if (i >= p->n)
			break;
		k->key.kern_stack = p->blocks[i].kern_stack;
		k->state = p->blocks[i].state;
		add_lost(k, p->blocks[i].count, p->blocks[i].total_ns);
	}
	p->n = 0;
}

#endif
