/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the records of the thread snapshot (bpfprof/threads.h): walking a
 * buffer of them, naming a thread's state as ps does, and how long the
 * thread has been in it.  Knows nothing about BPF or profiles.
 */
#ifndef BPFPROF_THREAD_RECORD_H
#define BPFPROF_THREAD_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfprof/types.h"
#include "bpfprof/threads.h"

/*
 * The next record of buf (len bytes) at *off, with its addresses: kips
 * (nkern) and uips (nuser), innermost first.  Advances *off.  Returns 1 for
 * a record, 0 at the end, -EINVAL when the buffer ends inside a record or a
 * count is out of range.  The pointers point into buf.
 */
int thread_record__next(const void *buf, size_t len, size_t *off, const struct thread_record **r,
			const __u64 **kips, const __u64 **uips);

/*
 * The thread's state: "running" (on a CPU at the snapshot), "runnable"
 * (waiting for one), "sleeping", "disk" (uninterruptible), "idle" (kernel
 * threads waiting for work), "stopped", "traced", "zombie", "dead",
 * "parked", "frozen".
 */
const char *thread_record__state(const struct thread_record *r);

/*
 * How long the thread has been in that state, from the scheduler's stamps:
 * running: since it was put on the CPU (sched_info.last_arrival); runnable:
 * since it was queued (sched_info.last_queued); any other state: since it
 * last left a CPU (last_arrival plus the length of that stint), which is
 * when it went to sleep, stopped or exited.  false when the kernel gave no
 * stamp.
 */
bool thread_record__state_ns(const struct thread_record *r, uint64_t *ns);

#endif
