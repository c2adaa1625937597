/* SPDX-License-Identifier: (Apache-2.0 OR BSD-2-Clause OR GPL-2.0-only) */
/*
 * The thread snapshot (bpf/threads.bpf.c → user/collect/threads.c): what the
 * task iterator writes for every target thread.  Shared by both sides; its
 * own header because nothing else uses it.
 */
#ifndef BPFPROF_THREADS_H
#define BPFPROF_THREADS_H

#include "bpfprof/common.h"

/* task flags copied into thread_record.flags */
#define THREAD_ON_CPU 0x1  /* running on a CPU at the snapshot (task->on_cpu) */
#define THREAD_KTHREAD 0x2 /* a kernel thread: no user stack */
#define THREAD_NO_MM 0x4   /* no user memory (exiting, zombie): no user stack */
/* The user stack was unwound with the process's CFI tables, not by frame pointers. */
#define THREAD_USTACK_CFI 0x8
/* The unwinder stopped early (unreadable stack, depth limit): the user stack is cut. */
#define THREAD_USTACK_TRUNCATED 0x10

/*
 * One record per thread, written with bpf_seq_write(): this header, then
 * nkern kernel addresses and nuser user addresses (__u64 each, innermost
 * first).  now_ns, last_arrival and last_queued are the scheduler's clock
 * (sched_clock, ns since boot), not CLOCK_MONOTONIC: compare them with each
 * other only.
 */
struct thread_record {
	__u32 pid;		     /* tgid */
	__u32 tid;		     /* kernel pid of the thread */
	__u32 state;		     /* task->__state (TASK_* bits) */
	__u32 exit_state;	     /* task->exit_state (EXIT_ZOMBIE, EXIT_DEAD) */
	__u32 flags;		     /* THREAD_* */
	__u16 nkern;		     /* kernel addresses that follow */
	__u16 nuser;		     /* user addresses that follow the kernel ones */
	__u64 now_ns;		     /* ns: rq clock of the CPU taking the snapshot */
	__u64 last_arrival;	     /* ns: last put on a CPU (sched_info); 0 unknown */
	__u64 last_queued;	     /* ns: queued to run (sched_info); 0 if not queued */
	__u64 last_run_ns;	     /* ns: its last stint on a CPU (CFS); 0 unknown */
	char comm[BPFPROF_COMM_LEN]; /* thread name */
};

#endif
