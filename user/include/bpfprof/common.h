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
	TARGET_PIDS = 1,   /* tgids in the target_pids map */
	TARGET_CGROUP = 2, /* tasks in the cgroup v2 of target_cgroup, or below it */
};

/*
 * Counters of what happened and of everything lost, per CPU, indexed by this
 * enum; userspace sums them and reports every loss.
 */
enum bpfprof_counter {
	CNT_EVENTS = 0,	      /* events on a target task (CPU samples, ...) */
	CNT_USTACK_NONE,      /* no user stack (kernel thread, exiting task) */
	CNT_KSTACK_NONE,      /* no kernel stack (sample in user mode): normal */
	CNT_STACK_MAP_FULL,   /* stack map full (or out of memory): the stack is lost */
	CNT_STACK_ERROR,      /* the kernel failed to capture a stack */
	CNT_COUNTS_MAP_FULL,  /* aggregation map full: the event is lost */
	CNT_PROC_EVENTS_LOST, /* ring buffer full: a process event is lost */
	CNT_TARGET_PIDS_FULL, /* a new child could not be followed */
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
#define STACK_ID_MIN 4096

/* The value of the stacks map: nr addresses, innermost first; the rest is garbage. */
struct stack_trace {
	__u64 nr;
	__u64 ips[BPFPROF_MAX_STACK_DEPTH];
};

/* Aggregation key: one per (process, thread, user stack, kernel stack, thread name). */
struct stack_key {
	__u32 pid;		     /* tgid */
	__u32 tid;		     /* 0 when not recorded per thread */
	__u64 user_stack;	     /* stack id */
	__u64 kern_stack;	     /* stack id */
	char comm[BPFPROF_COMM_LEN]; /* thread name */
};

/* Events about target processes, so userspace can record their mappings. */
enum bpfprof_proc_event_type {
	BPFPROF_PROC_NEW = 1,  /* first event of a process */
	BPFPROF_PROC_EXEC = 2, /* the process replaced its image */
	BPFPROF_PROC_FORK = 3, /* a new child of a followed process */
};

struct bpfprof_proc_event {
	__u32 type;		     /* enum bpfprof_proc_event_type */
	__u32 pid;		     /* tgid */
	char comm[BPFPROF_COMM_LEN]; /* of the process's main thread */
};

#endif
