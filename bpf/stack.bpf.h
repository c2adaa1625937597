/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Stack capture shared by every profile type.  A stack is copied into a
 * per-CPU buffer, hashed, and stored once in the stacks map under its 64-bit
 * hash, which aggregation keys use as the stack's id.  Unlike the kernel's
 * stack trace map, whose buckets collide long before it is full, distinct
 * stacks practically never share an id.
 */
#ifndef BPFPROF_STACK_BPF_H
#define BPFPROF_STACK_BPF_H

#include "counters.bpf.h"
#include "unwind.bpf.h"

const volatile bool capture_user = true;
const volatile bool capture_kernel = true;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/*
	 * Preallocated: allocating in the sampling context fails now and then
	 * (the allocator refills its per-CPU caches later), losing stacks.
	 */
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, __u64);
	__type(value, struct stack_trace);
} stacks SEC(".maps");

/* Per-CPU scratch: a stack is too big for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} stack_scratch SEC(".maps");

struct hash_ctx {
	struct stack_trace *st;
	__u64 h;
};

static long hash_step(__u64 i, void *data)
{
	struct hash_ctx *c = data;

	if (i >= BPFPROF_MAX_STACK_DEPTH)
		return 1;
	/* FNV-1a over whole addresses, with a fold so high bits reach the low ones. */
	c->h = (c->h ^ c->st->ips[i]) * 0x100000001b3ULL;
	c->h ^= c->h >> 32;
	return 0;
}

/*
 * bpf_loop keeps verification time flat: a bounded loop here is verified
 * once per iteration and per call site, which made loading take 0.35 s.
 */
static __always_inline __u64 hash_stack(struct stack_trace *st)
{
	struct hash_ctx c = { .st = st, .h = 0xcbf29ce484222325ULL };

	bpf_loop(st->nr, hash_step, &c, 0);
	return c.h < STACK_ID_MIN ? c.h + STACK_ID_MIN : c.h;
}

static __always_inline struct stack_trace *stack_buffer(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stack_scratch, &zero);
}

/* Stores the stack in st once, and returns its id. */
static __always_inline __u64 store_stack(struct stack_trace *st)
{
	__u64 id = hash_stack(st);
	long err;

	if (bpf_map_lookup_elem(&stacks, &id))
		return id; /* seen before: the common case */
	err = bpf_map_update_elem(&stacks, &id, st, BPF_NOEXIST);
	if (err == 0 || err == -17 /* EEXIST: another CPU stored it */)
		return id;
	count(CNT_STACK_MAP_FULL);
	return STACK_ID_MAP_FULL;
}

/*
 * Captures a stack with bpf_get_stack (flags: BPF_F_USER_STACK or a kernel
 * skip count) and returns its id, or a STACK_ID_* reason when there is none.
 */
static __always_inline __u64 capture_stack(void *ctx, __u64 flags, enum bpfprof_counter none)
{
	struct stack_trace *st = stack_buffer();
	long len;

	if (!st)
		return STACK_ID_ERROR;
	len = bpf_get_stack(ctx, st->ips, sizeof(st->ips), flags);
	if (len <= 0) {
		/* -EFAULT or nothing: the task had no such stack at this moment. */
		count(none);
		return len == 0 || len == -14 /* EFAULT */ ? STACK_ID_NONE : STACK_ID_ERROR;
	}
	st->nr = len / sizeof(__u64);
	st->flags = 0;
	return store_stack(st);
}

/*
 * The user stack of the current task.  The user registers are those saved
 * at its last entry into the kernel (the sampling interrupt, a syscall, a
 * fault): the top of the task's kernel stack, whatever the program type.
 */
static __always_inline __u64 capture_user_stack(void *ctx)
{
	struct task_struct *task;
	struct stack_trace *st;
	struct pt_regs *regs;
	struct uregs r;
	int n;

	task = bpf_get_current_task_btf();
	st = stack_buffer();
	if (!st)
		return STACK_ID_ERROR;
	if (!task->mm) {
		count(CNT_USTACK_NONE); /* a kernel thread */
		return STACK_ID_NONE;
	}
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	r.ip = regs->ip;
	r.sp = regs->sp;
	r.bp = regs->bp;
	n = unwind_user(&r, bpf_get_current_pid_tgid() >> 32, task, st);
	if (n < 0) /* no tables for this process (yet): the kernel's walk */
		return capture_stack(ctx, BPF_F_USER_STACK, CNT_USTACK_NONE);
	if (n == 0) {
		count(CNT_USTACK_NONE);
		return STACK_ID_NONE;
	}
	return store_stack(st);
}

/*
 * The user stack at a uprobe on a function's entry, or on a later
 * instruction before the function moves its stack pointer: its caller is
 * the return address at sp (a frame-pointer walk would skip it, since the
 * function has not pushed a frame yet).  Unwound with CFI where the process
 * has tables, by frame pointer until it has.  _ip: with the leaf frame at
 * ip instead of the probed instruction, for a function tail-called in
 * place of ip's (the heap sampler's probe reports the allocator function).
 */
static __always_inline __u64 capture_user_stack_at_entry_ip(struct pt_regs *ctx, __u64 ip)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct stack_trace *st = stack_buffer();
	struct uregs r;
	int n;

	if (!st)
		return STACK_ID_ERROR;
	r.ip = ip;
	r.sp = PT_REGS_SP(ctx);
	r.bp = PT_REGS_FP(ctx);
	n = unwind_user_at_entry(&r, bpf_get_current_pid_tgid() >> 32, task, st);
	if (n <= 0) {
		count(CNT_USTACK_NONE);
		return STACK_ID_NONE;
	}
	return store_stack(st);
}

static __always_inline __u64 capture_user_stack_at_entry(struct pt_regs *ctx)
{
	return capture_user_stack_at_entry_ip(ctx, PT_REGS_IP(ctx));
}

/* Fills the stack ids of key; kskip kernel frames belong to BPF (tp_btf adds two). */
static __always_inline void capture_stacks(void *ctx, struct stack_key *key, __u32 kskip)
{
	key->user_stack = capture_user ? capture_user_stack(ctx) : STACK_ID_NONE;
	key->kern_stack =
		capture_kernel ? capture_stack(ctx, kskip & BPF_F_SKIP_FIELD_MASK, CNT_KSTACK_NONE)
			       : STACK_ID_NONE;
}

#endif
