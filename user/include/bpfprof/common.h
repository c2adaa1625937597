/* SPDX-License-Identifier: (Apache-2.0 OR BSD-2-Clause OR GPL-2.0-only) */
/*
 * Definitions shared by the BPF programs (bpf/) and userspace (user/): map
 * keys and values, counters, events.  One definition each; never copy.
 */
#ifndef BPFPROF_COMMON_H
#define BPFPROF_COMMON_H

#define BPFPROF_COMM_LEN 16
/* Frames kept per stack: the kernel's limit for bpf_get_stackid(). */
#define BPFPROF_MAX_STACK_DEPTH 127

/* Which tasks are targets (target.bpf.h). */
enum target_mode {
	TARGET_ALL = 0,	   /* every task but the idle tasks */
	TARGET_PIDS = 1,   /* tgids in the target_bits map (threads: target_pids) */
	TARGET_CGROUP = 2, /* tasks in the cgroup v2 of target_cgroup, or below it */
};

/*
 * Counters of what happened and of everything lost, per CPU, indexed by
 * enum bpfprof_counter; userspace sums them and reports each by its kind:
 *   LOSS   something was lost: a warning and a profile comment, with its
 *          share of the events
 *   NOTE   worth knowing: a profile comment (and a line with -v)
 *   DEBUG  a line with -v only; what matters of it is reported elsewhere
 *          (the summary line, or its collector's own comment)
 * One row per counter: X(name, kind, message).  The message follows the
 * count ("12 stacks lost: ..."); userspace's table (capture/samples.c) is
 * made from these rows, so no counter goes unreported.
 */
#define BPFPROF_COUNTERS(X)                                                                        \
	X(CNT_EVENTS, DEBUG, "events on a target task (CPU samples, ...)")                         \
	X(CNT_USTACK_NONE, DEBUG, "events without a user stack (kernel thread, exiting task)")     \
	X(CNT_KSTACK_NONE, DEBUG, "events without a kernel stack (taken in user mode): normal")    \
	X(CNT_STACK_MAP_FULL, LOSS, "stacks lost: stack map full")                                 \
	X(CNT_STACK_ERROR, LOSS, "stacks the kernel failed to capture")                            \
	X(CNT_UNWIND_TRUNCATED, LOSS,                                                              \
	  "user stacks cut short: unreadable stack memory or depth limit (marked [truncated])")    \
	X(CNT_COUNTS_MAP_FULL, LOSS, "events dropped: aggregation map full")                       \
	X(CNT_PROC_EVENTS_LOST, LOSS, "process events lost: ring buffer full")                     \
	X(CNT_TARGET_PIDS_FULL, LOSS, "child processes not followed: pid map full")                \
	X(CNT_OFFCPU_STARTS_FULL, LOSS, "off-CPU intervals lost: start map full")                  \
	X(CNT_OFFCPU_UNPAIRED, LOSS, "off-CPU intervals lost: the switch back in was not seen")    \
	X(CNT_OFFCPU_USTACK_LOST, LOSS,                                                            \
	  "sampled off-CPU intervals without their user stack: the thread exited or the "          \
	  "capture ended first (marked [lost user stack])")                                        \
	X(CNT_OFFCPU_KEPT, DEBUG, "off-CPU intervals kept by sampling (the others were left out)") \
	X(CNT_UNWIND_FP_FALLBACK, DEBUG, "frames without CFI unwound by frame pointer")            \
	X(CNT_UNWIND_EPILOGUE, DEBUG,                                                              \
	  "frames without CFI unwound by the epilogue after their call (trampolines)")             \
	X(CNT_UNWIND_READ_FAILED, NOTE,                                                            \
	  "reads of stack memory failed while unwinding (those stacks are cut short)")             \
	X(CNT_MUTEX_WAITS_FULL, DEBUG, "futex waits lost: the per-thread wait map was full")       \
	X(CNT_MUTEX_REWAITS, DEBUG, "futex waits that went on with a contention already counted")  \
	X(CNT_MUTEX_NO_WAKER, DEBUG, "futex waits woken, but not by a futex call seen")            \
	X(CNT_MUTEX_UNWOKEN, DEBUG, "futex waits that timed out, were interrupted or never slept") \
	X(CNT_MUTEX_UNHELD_NS, DEBUG, "ns of futex waits given to no holder")                      \
	X(CNT_HEAP_SAMPLED, NOTE, "heap allocations sampled (their stacks captured)")              \
	X(CNT_HEAP_LIVE_FULL, LOSS,                                                                \
	  "sampled allocations not tracked: live map full (their frees are not seen; "             \
	  "--max-live raises it)")                                                                 \
	X(CNT_HEAP_PENDING_FULL, LOSS, "sampled allocations lost: pending map full")               \
	X(CNT_HEAP_RET_MISSED, LOSS, "sampled allocations lost: the call's return was not seen")   \
	X(CNT_HEAP_UNKNOWN_FREES, DEBUG, "frees of blocks allocated before attaching")             \
	X(CNT_HEAP_FAILED, NOTE, "sampled heap allocations that failed (returned NULL)")           \
	X(CNT_GROWTH_PENDING_FULL, LOSS, "memory syscalls lost: pending map full")                 \
	X(CNT_GROWTH_VMA_BUSY, LOSS,                                                               \
	  "page faults or memory syscalls dropped: their VMA could not be looked up (mmap lock "   \
	  "taken by a writer)")

enum bpfprof_counter {
#define BPFPROF_COUNTER_ENUM(name, kind, message) name,
	BPFPROF_COUNTERS(BPFPROF_COUNTER_ENUM)
#undef BPFPROF_COUNTER_ENUM
		CNT__MAX
};

/*
 * A stack id is the 64-bit hash of the stack's addresses, the key of the
 * stacks map.  Ids below STACK_ID_MIN are not stacks but say why there is
 * none, so userspace can show where stacks were lost.
 */
#define STACK_ID_NONE 0	    /* not asked for, or empty */
#define STACK_ID_MAP_FULL 1 /* the stacks map was full */
#define STACK_ID_ERROR 2    /* the kernel could not capture it */
#define STACK_ID_EVICTED 3  /* userspace no longer keeps it (the agent's cache) */
#define STACK_ID_MIN 4096

/* The unwinder stopped early (unreadable stack, depth limit): the stack is cut. */
#define STACK_TRUNCATED 1

/* The value of the stacks map: nr addresses, innermost first; the rest is garbage. */
struct stack_trace {
	__u32 nr;
	__u32 flags; /* STACK_TRUNCATED */
	__u64 ips[BPFPROF_MAX_STACK_DEPTH];
};

/* Aggregation key: one per (process, thread, user stack, kernel stack, thread name). */
struct stack_key {
	__u32 pid;		     /* tgid */
	__u32 tid;		     /* 0 when not recorded per thread */
	__u64 user_stack;	     /* stack id */
	__u64 kern_stack;	     /* stack id */
	char comm[BPFPROF_COMM_LEN]; /* thread name */
	/*
	 * The generation it was counted in (aggregate.bpf.h's agg_gen): the
	 * agent flips it to drain the maps while they keep counting; 0 for
	 * one-shot captures.
	 */
	__u32 gen;
	__u32 pad;
};

/*
 * DWARF CFI unwinding (bpf/unwind.bpf.h, user/unwind/).  A table is an
 * array of rows sorted by pc; a row holds from its pc to the next row's.
 */
enum unwind_cfa {
	UNWIND_NONE = 0, /* no CFI here: fall back to frame pointers */
	UNWIND_RSP = 1,	 /* CFA = rsp + cfa_off */
	UNWIND_RBP = 2,	 /* CFA = rbp + cfa_off */
	UNWIND_PLT = 3,	 /* PLT stub: CFA = rsp + 8, or + 16 after its push */
	UNWIND_END = 4,	 /* the return address is undefined: outermost frame */
};

struct unwind_row {
	__u32 pc;      /* ELF virtual address (files are below 4 GiB) */
	__s16 cfa_off; /* bytes */
	__u8 cfa;      /* enum unwind_cfa */
	__s8 rbp_off;  /* caller's rbp saved at CFA + 8 * rbp_off; 0: rbp unchanged */
};

/*
 * offcpu: what a task was doing when it was switched out.  Go's block
 * profile has no such split; the `state` label carries it.
 */
enum offcpu_state {
	OFFCPU_RUNNABLE = 0, /* preempted, or yielded: waiting for a CPU */
	OFFCPU_SLEEPING = 1, /* interruptible sleep: locks, pipes, sockets, timers */
	OFFCPU_DISK = 2,     /* uninterruptible sleep (D): disk I/O, some kernel locks */
	OFFCPU_STOPPED = 3,  /* stopped, traced or frozen */
	OFFCPU_STATE__MAX
};

/* offcpu aggregation key: where and in which state a task left the CPU. */
struct offcpu_key {
	struct stack_key key;
	__u32 state; /* enum offcpu_state */
	__u32 pad;
};

/*
 * Contentions are kept in 1/2^OFFCPU_COUNT_SHIFT units: a sampled interval
 * shorter than the rate counts rate/length of an interval (Go's block
 * profile does the same), which is rarely a whole number.
 */
#define OFFCPU_COUNT_SHIFT 16

struct offcpu_val {
	__u64 count;	/* off-CPU intervals, << OFFCPU_COUNT_SHIFT */
	__u64 total_ns; /* their summed length (a sampled short interval adds the rate) */
};

/* A target thread, by tid: when and where it last left the CPU. */
struct offcpu_start {
	__u64 ts_ns;	  /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) at switch-out; 0: on CPU */
	__u64 runtime_ns; /* the task's CPU time then (se.sum_exec_runtime) */
	struct offcpu_key key;
};

/*
 * offcpu sampling: a target thread's slot (by tid), written in place at each
 * of its switches.  Small, because every switch of a target touches it; the
 * stacks are taken later, for kept intervals only.
 */
struct offcpu_thread {
	__u64 ts_ns;	  /* bpf_ktime_get_ns() at switch-out; 0: on CPU, or not recorded */
	__u64 runtime_ns; /* the task's CPU time then (se.sum_exec_runtime) */
	__u64 rng;	  /* xorshift64 state of its sampling draws; 0: not seeded yet */
	__u64 tid;	  /* the thread owning the slot; 0: free (64-bit: claimed by cmpxchg) */
	__u32 state;	  /* enum offcpu_state at switch-out */
	__u32 pad;
};

/* threadcreate: what a fork/clone of a target made. */
enum threadcreate_kind {
	CREATE_THREAD = 0,  /* the child shares the parent's tgid */
	CREATE_PROCESS = 1, /* the child leads a new thread group */
};

struct threadcreate_key {
	struct stack_key key; /* the parent's stack and thread */
	__u32 kind;	      /* enum threadcreate_kind */
	__u32 pad;
};

/*
 * mutex: contention of futex-based locks.  The key is the stack of the
 * waiting thread (--by waiter) or of the thread whose futex wake ended the
 * wait (--by holder), and the futex's address.
 */
struct mutex_key {
	struct stack_key key;
	__u64 lock; /* futex address in the process of key.pid */
};

struct mutex_val {
	__u64 count;	/* contentions: lock acquisitions (or condition waits) that slept */
	__u64 delay_ns; /* time in their futex waits */
};

#define UNWIND_MAX_MAPS 64

struct unwind_page_key {
	__u32 file_id;
	__u32 page; /* ELF address >> UNWIND_PAGE_SHIFT */
};

/* The rows of a file holding a page's addresses: unwind_rows[first, first + count). */
struct unwind_page {
	__u32 first;
	__u32 count;
};

struct unwind_map {
	__u64 start; /* runtime addresses [start, end) */
	__u64 end;
	__u64 bias;    /* ELF address = runtime address - bias */
	__u32 file_id; /* 0: no table, use frame pointers */
	__u32 pad;
};

/* A process's executable mappings. */
struct unwind_proc {
	__u32 n;
	__u32 gen;	/* new at every write: frames cached under another are stale */
	__u64 stale_ns; /* BPF: when it last asked for these maps to be re-read */
	struct unwind_map maps[UNWIND_MAX_MAPS];
};

/*
 * heap: sampled allocations.  Each sampled call adds to its stack's
 * heap_alloc entry (Go's alloc_objects / alloc_space before scaling) and,
 * until it is freed, is remembered in the live map by address.
 */
struct heap_alloc_val {
	__u64 count; /* sampled allocations */
	__u64 bytes; /* their requested sizes, summed */
};

/*
 * What a probed allocator function does, as the uprobe's cookie: where its
 * size and block are (x86-64 System V registers).
 */
enum heap_fn {
	HEAP_FN_MALLOC = 1,	/* size in rdi; also valloc, operator new, mallocx */
	HEAP_FN_CALLOC,		/* nmemb rdi, size rsi */
	HEAP_FN_REALLOC,	/* ptr rdi, size rsi; also rallocx */
	HEAP_FN_REALLOCARRAY,	/* ptr rdi, nmemb rsi, size rdx */
	HEAP_FN_MEMALIGN,	/* alignment rdi, size rsi; also aligned_alloc */
	HEAP_FN_POSIX_MEMALIGN, /* memptr rdi, alignment rsi, size rdx; returns 0 */
	HEAP_FN_PVALLOC,	/* size rdi, rounded up to pages */
	HEAP_FN_FREE,		/* ptr rdi; also cfree, operator delete, sdallocx */
	HEAP_FN_CALIBRATE,	/* bpfprof's own probe cost measurement: nothing */
	HEAP_FN__MAX,
};

/* Functions probed per allocator; a probe's cookie is (index << 8) | enum heap_fn. */
#define HEAP_MAX_PROBES 64

/* Calls seen per probed function (for the rate measurement and the report). */
struct heap_calls {
	__u64 calls;
	__u64 bytes; /* requested by the allocating ones */
};

struct heap_live_key {
	__u64 addr; /* the block's address in process pid */
	__u32 pid;  /* tgid */
	__u32 pad;
};

struct heap_live_val {
	struct stack_key key; /* where it was allocated */
	__u64 size;	      /* requested size */
	__u64 time_ns;	      /* bpf_ktime_get_ns() at allocation */
};

/* Events about target processes, so userspace can record their mappings. */
enum bpfprof_proc_event_type {
	BPFPROF_PROC_NEW = 1,  /* first event of a process */
	BPFPROF_PROC_EXEC = 2, /* the process replaced its image */
	BPFPROF_PROC_FORK = 3, /* a new child of a followed process */
	BPFPROF_PROC_MAPS = 4, /* a stack ran through code in no known mapping (dlopen...) */
	/* A launched command reached its entry point, stopped: read its maps, continue it. */
	BPFPROF_PROC_ENTRY = 5,
};

/*
 * BPFPROF_PROC_NEW or _FORK of a process that has not exec'd since its fork
 * and runs its parent's executable: its mappings are (still) its parent's.
 */
#define BPFPROF_PROC_F_FORKED 1

struct bpfprof_proc_event {
	__u32 type;		     /* enum bpfprof_proc_event_type */
	__u32 pid;		     /* tgid */
	char comm[BPFPROF_COMM_LEN]; /* of the process's main thread */
	__u32 ppid;		     /* its parent's tgid */
	__u32 flags;		     /* BPFPROF_PROC_F_* */
	__u64 start_ns;		     /* its start, ns since boot (as /proc/PID/stat's, in ns) */
};

#endif
