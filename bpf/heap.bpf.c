// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Heap profile: uprobes on the allocator of the target processes (one
 * uprobe_multi link per allocator file, filtered to a process, the cookie
 * telling each function's kind).
 *
 * The trap is the cost (~0.5 µs emulated, ~10 µs single-stepped), so each
 * call does the least it can: an allocation subtracts its size from its
 * thread's byte counter and, unless the counter ran out, returns at once
 * without asking for a return probe (a session uprobe returning 1).  When
 * it ran out, the allocation is sampled as Go samples: the stack is captured,
 * the counter is reset to an exponentially distributed interval of mean
 * sample_rate bytes, and the return probe records the block in the live map
 * and its stack's totals.  A free deletes its address from the live map.
 *
 * Without session uprobes (before Linux 6.13) the same work runs from a
 * plain uprobe and a uretprobe on every allocating call: correct, slower.
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

extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;

/* Mean bytes between samples; 1: every allocation. */
const volatile __u64 sample_rate = 512 * 1024;
const volatile __u64 page_size = 4096;

/* Userspace sets it while measuring the call rate: count calls, nothing else. */
bool measuring = false;
/*
 * glibc's realloc(NULL, n) tail-calls malloc and realloc(p, 0) calls free,
 * both probed already: its realloc then leaves those cases to them, so
 * they count once.
 */
bool glibc_realloc = false;

#define EXP_TABLE_BITS 12
#define EXP_TABLE_SIZE (1 << EXP_TABLE_BITS)
#define EXP_SHIFT 16

/* -ln((i + 0.5) / EXP_TABLE_SIZE) << EXP_SHIFT: an exponential draw of mean 1. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EXP_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} exp_table SEC(".maps");

struct thread_state {
	__s64 left; /* bytes until the next sampled allocation */
	__u32 started;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* A sampled call between its entry and its return. */
struct pending_key {
	__u32 tid;
	__u32 pad;
	__u64 sp; /* the stack pointer at entry: unique per nesting level */
};

struct pending {
	struct stack_key key;
	__u64 size;
	__u64 memptr; /* posix_memalign: where the block's address is written */
	__u32 fn;     /* enum heap_fn */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pending_key);
	__type(value, struct pending);
} pendings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* grows with the live sampled blocks */
	__uint(max_entries, 262144);	      /* userspace sizes it before load */
	__type(key, struct heap_live_key);
	__type(value, struct heap_live_val);
} live SEC(".maps");

/*
 * How many live sampled blocks hash to each slot: a free whose slot holds
 * none (nearly every free at a sampled rate) returns after one array
 * lookup, which the verifier inlines, instead of a hash lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 20); /* a power of two; userspace sizes it before load */
	__type(key, __u32);
	__type(value, __u32);
} live_filter SEC(".maps");

const volatile __u32 live_filter_bits = 20;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* userspace sizes it before load */
	__type(key, struct stack_key);
	__type(value, struct heap_alloc_val);
} allocs SEC(".maps");

static __always_inline __u32 *filter_slot(__u64 addr, __u32 tgid)
{
	__u32 i = ((addr ^ ((__u64)tgid << 40)) * 0x9e3779b97f4a7c15ULL) >> (64 - live_filter_bits);

	return bpf_map_lookup_elem(&live_filter, &i);
}

/*
 * Every call, sampled or not, while attached: userspace prices the rate
 * before attaching and, once a second, while attached (the overhead guard).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HEAP_MAX_PROBES); /* per target process: userspace sizes it */
	__type(key, __u32); /* target slot * HEAP_MAX_PROBES + probe: the cookie >> 8 */
	__type(value, struct heap_calls);
} calls SEC(".maps");

static __always_inline void count_call(__u64 cookie, __u64 size)
{
	__u32 probe = cookie >> 8;
	struct heap_calls *c = bpf_map_lookup_elem(&calls, &probe);

	if (c) {
		c->calls++;
		c->bytes += size;
	}
}

/* The requested size of an allocating call, from its arguments. */
static __always_inline __u64 request_size(struct pt_regs *ctx, __u32 fn)
{
	switch (fn) {
	case HEAP_FN_MALLOC:
		return PT_REGS_PARM1(ctx);
	case HEAP_FN_CALLOC:
		return PT_REGS_PARM1(ctx) * PT_REGS_PARM2(ctx);
	case HEAP_FN_REALLOC:
	case HEAP_FN_MEMALIGN:
		return PT_REGS_PARM2(ctx);
	case HEAP_FN_REALLOCARRAY:
		return PT_REGS_PARM2(ctx) * PT_REGS_PARM3(ctx);
	case HEAP_FN_POSIX_MEMALIGN:
		return PT_REGS_PARM3(ctx);
	case HEAP_FN_PVALLOC:
		return (PT_REGS_PARM1(ctx) + page_size - 1) & ~(page_size - 1);
	}
	return 0;
}

static __always_inline void forget_block(__u64 addr, __u32 tgid)
{
	struct heap_live_key k = { .addr = addr, .pid = tgid };
	__u32 *slot = filter_slot(addr, tgid);

	/*
	 * Look first: most frees are of unsampled blocks, and a lookup takes no
	 * lock where a delete takes the bucket's.
	 */
	if (!slot || !*slot || !bpf_map_lookup_elem(&live, &k)) {
		if (sample_rate == 1 && addr)
			count(CNT_HEAP_UNKNOWN_FREES); /* allocated before we attached */
		return;
	}
	if (bpf_map_delete_elem(&live, &k) == 0)
		__sync_fetch_and_add(slot, -1);
}

/* An exponentially distributed interval of mean sample_rate bytes. */
static __always_inline __s64 next_interval(void)
{
	__u32 i = bpf_get_prandom_u32() & (EXP_TABLE_SIZE - 1);
	__u32 *v = bpf_map_lookup_elem(&exp_table, &i);

	if (!v)
		return sample_rate;
	return (__s64)((sample_rate * *v) >> EXP_SHIFT);
}

/*
 * Whether this allocation of size bytes is sampled: Go's per-thread
 * countdown, which samples each byte with probability 1/sample_rate.
 */
static __always_inline bool sample(__u64 size)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct thread_state *t;

	if (sample_rate <= 1)
		return true;
	t = bpf_task_storage_get(&threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t)
		return false;
	if (!t->started) {
		t->started = 1;
		t->left = next_interval();
	}
	t->left -= size;
	if (t->left > 0)
		return false;
	t->left = next_interval();
	return true;
}

/*
 * The entry of an allocating call.  Returns 0 when the call was sampled and
 * its return must be seen, 1 otherwise.
 */
static __always_inline int alloc_entry(struct pt_regs *ctx, __u64 sp)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 fn = cookie & 0xff;
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_key pk = { .tid = (__u32)id, .sp = sp };
	struct pending p;
	__u64 size;

	if (fn == HEAP_FN_CALIBRATE)
		return 1;
	size = request_size(ctx, fn);
	count_call(cookie, size);
	if (measuring)
		return 1;
	if (fn == HEAP_FN_REALLOC && glibc_realloc && (!PT_REGS_PARM1(ctx) || !size))
		return 1;
	/* realloc frees its old block (realloc(p, 0) too); a failed one keeps it, rarely. */
	if (fn == HEAP_FN_REALLOC || fn == HEAP_FN_REALLOCARRAY)
		if (PT_REGS_PARM1(ctx))
			forget_block(PT_REGS_PARM1(ctx), id >> 32);
	if (size == 0 || !sample(size))
		return 1;
	count(CNT_EVENTS);
	count(CNT_HEAP_SAMPLED);
	note_process(id >> 32);
	__builtin_memset(&p, 0, sizeof(p));
	p.fn = fn;
	p.size = size;
	p.memptr = fn == HEAP_FN_POSIX_MEMALIGN ? PT_REGS_PARM1(ctx) : 0;
	key_current(&p.key, id >> 32, (__u32)id);
	p.key.user_stack = capture_user_stack_at_entry(ctx);
	p.key.kern_stack = STACK_ID_NONE;
	if (bpf_map_lookup_elem(&pendings, &pk))
		count(CNT_HEAP_RET_MISSED); /* left there by a call that never returned (longjmp) */
	if (bpf_map_update_elem(&pendings, &pk, &p, BPF_ANY)) {
		count(CNT_HEAP_PENDING_FULL);
		return 1;
	}
	return 0;
}

/* A sampled block of size bytes at addr, allocated at key's stack: live from now on. */
static __always_inline void record_block(struct stack_key *key, __u64 addr, __u64 size, __u32 tgid)
{
	struct heap_alloc_val zero = {}, *a;
	struct heap_live_key lk = {};
	struct heap_live_val lv;
	__u32 *slot;
	long err;

	lk.addr = addr;
	lk.pid = tgid;
	__builtin_memcpy(&lv.key, key, sizeof(lv.key));
	lv.size = size;
	lv.time_ns = bpf_ktime_get_ns();
	a = aggregate_slot(&allocs, key, &zero);
	if (a) {
		__sync_fetch_and_add(&a->count, 1);
		__sync_fetch_and_add(&a->bytes, size);
	}
	/* NOEXIST: the same address twice (a missed free) must not count twice in the filter. */
	err = bpf_map_update_elem(&live, &lk, &lv, BPF_NOEXIST);
	if (err == -17 /* EEXIST */)
		bpf_map_update_elem(&live, &lk, &lv, BPF_EXIST);
	else if (err)
		count(CNT_HEAP_LIVE_FULL);
	else if ((slot = filter_slot(addr, tgid)))
		__sync_fetch_and_add(slot, 1);
}

/* The return of a sampled call: the block is live from now on. */
static __always_inline void alloc_return(struct pt_regs *ctx, __u64 sp)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_key pk = { .tid = (__u32)id, .sp = sp };
	struct pending *p;
	__u64 addr = PT_REGS_RC(ctx);

	p = bpf_map_lookup_elem(&pendings, &pk);
	if (!p)
		return; /* not sampled (no session uprobes: every call returns here) */
	if (p->fn == HEAP_FN_POSIX_MEMALIGN) {
		if (addr != 0 || bpf_probe_read_user(&addr, sizeof(addr), (void *)p->memptr))
			addr = 0;
	}
	if (!addr) {
		count(CNT_HEAP_FAILED);
		bpf_map_delete_elem(&pendings, &pk);
		return;
	}
	record_block(&p->key, addr, p->size, id >> 32);
	bpf_map_delete_elem(&pendings, &pk);
}

/* Session uprobe on every allocating function: entry and, when sampled, return. */
SEC("uprobe")
int heap_alloc_session(struct pt_regs *ctx)
{
	__u64 *cookie = bpf_session_cookie();

	if (!cookie)
		return 1;
	if (bpf_session_is_return()) {
		alloc_return(ctx, *cookie);
		return 0;
	}
	*cookie = PT_REGS_SP(ctx);
	return alloc_entry(ctx, *cookie);
}

/* Without session uprobes: the entry ... */
SEC("uprobe")
int heap_alloc_entry(struct pt_regs *ctx)
{
	alloc_entry(ctx, PT_REGS_SP(ctx));
	return 0;
}

/* ... and a uretprobe on every call, where the return address has been popped. */
SEC("uretprobe")
int heap_alloc_return(struct pt_regs *ctx)
{
	alloc_return(ctx, PT_REGS_SP(ctx) - 8);
	return 0;
}

/* Every freeing function: one map delete. */
SEC("uprobe")
int heap_free(struct pt_regs *ctx)
{
	__u64 addr = PT_REGS_PARM1(ctx);

	count_call(bpf_get_attach_cookie(ctx), 0);
	if (measuring || !addr)
		return 0;
	forget_block(addr, bpf_get_current_pid_tgid() >> 32);
	return 0;
}

/*
 * The in-process sampler's probe (user/heap/sampler/): called only for a
 * sampled allocation, after it succeeded, as sampler_probe(address, size,
 * enum heap_fn, return value, the allocator function), tail-called in that
 * function's place so the stack is its caller's; and for the free of a
 * sampled block, before the allocator sees it.
 */
SEC("uprobe")
int heap_sampled(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 addr = PT_REGS_PARM1(ctx), size = PT_REGS_PARM2(ctx);
	struct stack_key key;

	if (PT_REGS_PARM3(ctx) == HEAP_FN_FREE) {
		forget_block(addr, id >> 32);
		return 0;
	}
	if (!addr || !size)
		return 0;
	count(CNT_EVENTS);
	count(CNT_HEAP_SAMPLED);
	note_process(id >> 32);
	__builtin_memset(&key, 0, sizeof(key));
	key_current(&key, id >> 32, (__u32)id);
	key.user_stack = capture_user_stack_at_entry_ip(ctx, PT_REGS_PARM5(ctx));
	key.kern_stack = STACK_ID_NONE;
	record_block(&key, addr, size, id >> 32);
	return 0;
}

/*
 * The dynamic loader's r_brk (glibc's _dl_debug_state), in a process with
 * the in-process sampler: the loader calls it with r_state RT_ADD before it
 * maps new objects (dlopen) and RT_CONSISTENT once they are in its list,
 * before it relocates them and runs their constructors.  At RT_CONSISTENT
 * after RT_ADD the process is stopped (when the cookie's bit 0 asks) and
 * userspace told the notifying thread's pid_tgid and the time: it lets that thread run
 * on alone to the new objects' first constructor, and redirects their GOT
 * slots there (heap/dlopen.c).  The cookie: the r_debug's address | hold.
 */
#define RT_CONSISTENT 0
#define RT_ADD 1
#define DL_SIGSTOP 19

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} dl_events SEC(".maps");

/* Processes between RT_ADD and RT_CONSISTENT. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} dl_adding SEC(".maps");

SEC("uprobe")
int heap_dl_notify(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), id = bpf_get_current_pid_tgid(), *e;
	__u32 tgid = id >> 32;
	__u8 one = 1;
	int state;

	/* struct r_debug: r_version, r_map, r_brk, then r_state at 24. */
	if (bpf_probe_read_user(&state, sizeof(state), (void *)((cookie & ~7ULL) + 24)))
		return 0;
	if (state == RT_ADD) {
		bpf_map_update_elem(&dl_adding, &tgid, &one, BPF_ANY);
		return 0;
	}
	if (state != RT_CONSISTENT || bpf_map_delete_elem(&dl_adding, &tgid))
		return 0; /* a dlclose's, or no object added */
	if (cookie & 1)
		bpf_send_signal(DL_SIGSTOP);
	e = bpf_ringbuf_reserve(&dl_events, 2 * sizeof(*e), 0);
	if (!e)
		return 0;
	e[0] = id;
	e[1] = bpf_ktime_get_ns(); /* CLOCK_MONOTONIC: how long the stop lasted */
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
