// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Lock contention (Go's mutex profile) from the futex syscall alone: a
 * pthread mutex, rwlock or condition variable calls futex() only when it
 * must sleep or wake a sleeper, so uncontended locking never reaches these
 * programs.  A wait op of a target thread leaves its start time (and, for
 * the waiter view, its stacks) in its waits entry; when the syscall returns,
 * the time it took goes to (stack key, futex address) in the contentions
 * map.  For the holder view, the thread in a futex wake op is noted per CPU,
 * and sched_waking, which runs in the waker while it wakes each waiter,
 * hands the waker's stacks to the waiter's entry: the wait is then charged
 * to the thread whose wake ended it.
 *
 * The syscall is seen either through the syscalls:sys_{enter,exit}_futex*
 * tracepoints (only futex calls run a program) or, where those do not
 * exist, through raw_syscalls sys_enter/sys_exit with a filter on the
 * syscall number first.
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
#include "syscalls.bpf.h"

#ifndef __TARGET_ARCH_x86
#error "syscall numbers and registers are x86-64's"
#endif
#define NR_futex 202
#define NR_futex_waitv 449
#define NR_futex_wake 454
#define NR_futex_wait 455
#define NR_futex_requeue 456

/* futex(2) commands (include/uapi/linux/futex.h), without the PRIVATE and CLOCK flags. */
#define FUTEX_CMD_MASK 0x7f
#define FUTEX_WAIT 0
#define FUTEX_LOCK_PI 6
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_LOCK_PI2 13
#define FUTEX_FD 2

#define EINTR 4
#define EAGAIN 11
#define ETIMEDOUT 110
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

/* The BPF program and bpf_trace_run1 above the waker's stack in sched_waking. */
#define KSKIP_BTF 2
#define KSKIP_RAW 2

/* Charge the wait to its waker's stacks (--by holder), not to its own. */
const volatile bool by_holder = false;
/* Only this futex address (--lock); 0: every one. */
const volatile __u64 lock_filter = 0;
/*
 * A wait on the same address starting this soon after the thread's last
 * one ended, with no other futex call of the thread in between, goes on
 * with the same contention: it was woken and lost the lock to another
 * thread (glibc's unlock after a contended acquisition always wakes, so a
 * new acquisition never follows a wait without a wake in between).  Such a
 * thread waits again within a few microseconds; 50 us also covers an
 * interrupt in between, and is shorter than a consumer's round between two
 * separate condition waits usually is.
 */
#define REWAIT_GAP_NS 50000

enum wait_flags {
	WAIT_REWAIT = 1,	 /* goes on with the contention of the last wait */
	WAIT_HOLDER_COUNTED = 2, /* the contention was counted in a holder's entry */
	WAIT_HAS_WAKER = 4,	 /* waker holds who woke this wait */
};

/* A target thread's futex waits: the one going on and how the last one ended. */
struct mutex_wait {
	__u64 start_ns;	   /* bpf_ktime_get_ns() at the wait's entry; 0: not waiting */
	__u64 lock;	   /* futex address waited on */
	__u64 waitv;	   /* futex_waitv: the user's array, else 0 */
	__u64 last_lock;   /* address of the last wait, 0 after any other futex call */
	__u64 last_end_ns; /* when the last wait ended */
	__u32 flags;	   /* enum wait_flags */
	__u32 pad;
	struct stack_key waiter; /* stacks of the thread at the wait (--by waiter) */
	struct stack_key waker;	 /* stacks of the thread that woke it (--by holder) */
};

/* The target thread in a futex wake op on this CPU, and its stacks once needed. */
struct mutex_waker {
	__u32 tid; /* 0: none */
	__u32 captured;
	struct stack_key key;
};

struct {
	/* Kept per thread between waits; threads that exit are evicted. */
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, __u32);	    /* tid */
	__type(value, struct mutex_wait);
} waits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, struct mutex_key);
	__type(value, struct mutex_val);
} contentions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mutex_waker);
} wakers SEC(".maps");

enum futex_kind { KIND_OTHER, KIND_WAIT, KIND_WAKE };

static __always_inline enum futex_kind futex_kind(__u32 nr, __u32 op)
{
	switch (nr) {
	case NR_futex_wait:
	case NR_futex_waitv:
		return KIND_WAIT;
	case NR_futex_wake:
	case NR_futex_requeue:
		return KIND_WAKE;
	}
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
	case FUTEX_WAIT_REQUEUE_PI:
		return KIND_WAIT;
	case FUTEX_FD:
	case FUTEX_TRYLOCK_PI:
		return KIND_OTHER;
	}
	/* WAKE, WAKE_BITSET, WAKE_OP, (CMP_)REQUEUE, CMP_REQUEUE_PI, UNLOCK_PI. */
	return KIND_WAKE;
}

static __always_inline struct mutex_waker *waker_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&wakers, &zero);
}

/* The entry of a thread about to wait, made at its first wait. */
static __always_inline struct mutex_wait *wait_entry(__u32 tid)
{
	struct mutex_wait *w = bpf_map_lookup_elem(&waits, &tid), init = {};

	if (w)
		return w;
	bpf_map_update_elem(&waits, &tid, &init, BPF_NOEXIST);
	w = bpf_map_lookup_elem(&waits, &tid);
	if (!w)
		count(CNT_MUTEX_WAITS_FULL);
	return w;
}

/* The address of entry i of a futex_waitv array in user memory; 0 if unreadable. */
static __always_inline __u64 waitv_addr(__u64 waitv, __u64 i)
{
	__u64 addr = 0;

	if (i < 128 /* FUTEX_WAITV_MAX */)
		bpf_probe_read_user(&addr, sizeof(addr),
				    (void *)(waitv + i * sizeof(struct futex_waitv) +
					     __builtin_offsetof(struct futex_waitv, uaddr)));
	return addr;
}

/* Any futex call but a wait on the same address ends a run of rewaits. */
static __always_inline void end_rewaits(__u32 tid)
{
	struct mutex_wait *w = bpf_map_lookup_elem(&waits, &tid);

	if (w)
		w->last_lock = 0;
}

static __always_inline void begin_wait(void *ctx, __u32 tgid, __u32 tid, __u64 lock, __u64 waitv)
{
	struct mutex_wait *w;
	__u64 now;

	/* A waitv is filtered at its end, on the address that woke it. */
	if (lock_filter && !waitv && lock != lock_filter) {
		end_rewaits(tid);
		return;
	}
	w = wait_entry(tid);
	if (!w)
		return;
	now = bpf_ktime_get_ns();
	if (w->last_lock == lock && now - w->last_end_ns <= REWAIT_GAP_NS) {
		w->flags = WAIT_REWAIT | (w->flags & WAIT_HOLDER_COUNTED);
	} else {
		w->flags = 0;
		if (!by_holder) {
			/* A rewait keeps the stacks of the wait it goes on with. */
			note_process(tgid);
			key_current(&w->waiter, tgid, tid);
			capture_stacks(ctx, &w->waiter, 0);
		}
	}
	w->lock = lock;
	w->waitv = waitv;
	w->last_lock = 0;
	w->start_ns = now;
}

/* A futex call of a target thread: args as the syscall got them. */
static __always_inline void on_enter(void *ctx, __u32 nr, __u64 a0, __u64 a1)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct mutex_waker *wk;
	enum futex_kind kind;

	if (!is_target(tgid))
		return;
	kind = futex_kind(nr, a1);
	if (kind == KIND_WAIT) {
		if (nr == NR_futex_waitv)
			begin_wait(ctx, tgid, tid, waitv_addr(a0, 0), a0);
		else
			begin_wait(ctx, tgid, tid, a0, 0);
		return;
	}
	end_rewaits(tid);
	if (by_holder && kind == KIND_WAKE) {
		wk = waker_slot();
		if (wk) {
			wk->tid = tid;
			wk->captured = 0;
		}
	}
}

static __always_inline void add_contention(const struct stack_key *key, __u64 lock, bool first,
					   __u64 delay)
{
	struct mutex_key k = { .key = *key, .lock = lock };
	struct mutex_val zero = {}, *v;

	if (first)
		count(CNT_EVENTS);
	else
		count(CNT_MUTEX_REWAITS);
	v = aggregate_slot(&contentions, &k, &zero);
	if (!v)
		return;
	if (first)
		__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->delay_ns, delay);
}

static __always_inline void count_ns(enum bpfprof_counter c, __u64 ns)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		*v += ns;
}

/* How a wait ended: woken (ret >= 0), or it did wait but no wake ended it. */
static __always_inline bool waited(long ret)
{
	return ret >= 0 || ret == -EAGAIN || ret == -ETIMEDOUT || ret == -EINTR ||
	       (ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK);
}

/* The end of a futex call of the current thread. */
static __always_inline void on_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid(), now, delay, lock;
	__u32 tid = (__u32)id;
	struct mutex_waker *wk;
	struct mutex_wait *w;
	bool rewait, first;

	wk = by_holder ? waker_slot() : NULL;
	if (wk && wk->tid == tid)
		wk->tid = 0;
	w = bpf_map_lookup_elem(&waits, &tid);
	if (!w || !w->start_ns)
		return;
	now = bpf_ktime_get_ns();
	delay = now - w->start_ns;
	w->start_ns = 0;
	if (!waited(ret))
		return; /* an error: no wait took place */
	lock = w->lock;
	/* futex_waitv returns the index of the futex that woke it. */
	if (w->waitv && ret >= 0)
		lock = waitv_addr(w->waitv, ret);
	if (lock_filter && lock != lock_filter)
		return;
	w->last_lock = w->lock;
	w->last_end_ns = now;
	rewait = w->flags & WAIT_REWAIT;
	if (!by_holder) {
		add_contention(&w->waiter, lock, !rewait, delay);
		return;
	}
	if (ret < 0 || !(w->flags & WAIT_HAS_WAKER)) {
		count(ret < 0 ? CNT_MUTEX_UNWOKEN : CNT_MUTEX_NO_WAKER);
		count_ns(CNT_MUTEX_UNHELD_NS, delay);
		return;
	}
	/* A contention counts once, at the first holder whose wake ended one of its waits. */
	first = !(w->flags & WAIT_HOLDER_COUNTED);
	w->flags |= WAIT_HOLDER_COUNTED;
	add_contention(&w->waker, lock, first, delay);
}

/*
 * sched_waking, in the waker's context: when the current thread is in a
 * futex wake op and wakes a waiting target thread, the waiter gets its
 * stacks, captured at the first such wakeup of the call.
 */
static __always_inline void on_waking(void *ctx, struct task_struct *p, __u32 kskip)
{
	struct mutex_waker *wk = waker_slot();
	struct mutex_wait *w;
	__u64 id;
	__u32 tid;

	if (!wk || !wk->tid)
		return;
	id = bpf_get_current_pid_tgid();
	if (wk->tid != (__u32)id)
		return;
	tid = BPF_CORE_READ(p, pid);
	w = bpf_map_lookup_elem(&waits, &tid);
	if (!w || !w->start_ns)
		return;
	if (!wk->captured) {
		note_process(id >> 32);
		key_current(&wk->key, id >> 32, (__u32)id);
		capture_stacks(ctx, &wk->key, kskip);
		wk->captured = 1;
	}
	w->waker = wk->key;
	w->flags |= WAIT_HAS_WAKER;
}

/* The futex calls: one entry program serves them all (the record says which). */
static __always_inline void futex_enter(void *ctx, long nr, __u64 a0, __u64 a1, __u64 a2, __u64 a3)
{
	on_enter(ctx, nr, a0, a1);
}

static __always_inline void futex_exit(void *ctx, long nr, long ret)
{
	on_exit(ret);
}

static __always_inline bool is_futex_nr(long nr)
{
	return nr == NR_futex || nr == NR_futex_waitv ||
	       (nr >= NR_futex_wake && nr <= NR_futex_requeue);
}

SYSCALL_ENTER_TP(futex, ctx->nr, 2, futex_enter)
SYSCALL_EXIT_TP(futex, futex_exit)
SYSCALL_RAW_TP(is_futex_nr, futex_enter, futex_exit)

TP_PROG(waking, sched_waking, struct task_struct *p)
{
	on_waking(ctx, p, tp_btf ? KSKIP_BTF : KSKIP_RAW);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
