// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "capture/thread_record.h"

/* include/linux/sched.h: task->__state and task->exit_state bits. */
#define TASK_INTERRUPTIBLE 0x0001
#define TASK_UNINTERRUPTIBLE 0x0002
#define TASK_STOPPED 0x0004
#define TASK_TRACED 0x0008
#define EXIT_DEAD 0x0010
#define EXIT_ZOMBIE 0x0020
#define TASK_PARKED 0x0040
#define TASK_NOLOAD 0x0400
#define TASK_RTLOCK_WAIT 0x1000
#define TASK_FROZEN 0x8000
#define TASK_IDLE (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)
#define TASK_REPORT 0x7f /* the bits /proc reports, one letter each */

int thread_record__next(const void *buf, size_t len, size_t *off, const struct thread_record **r,
			const __u64 **kips, const __u64 **uips)
{
	const struct thread_record *rec;
	size_t need;

	if (*off == len)
		return 0;
	if (*off > len || len - *off < sizeof(*rec))
		return -EINVAL;
	rec = (const struct thread_record *)((const char *)buf + *off);
	if (rec->nkern > BPFPROF_MAX_STACK_DEPTH || rec->nuser > BPFPROF_MAX_STACK_DEPTH)
		return -EINVAL;
	need = sizeof(*rec) + ((size_t)rec->nkern + rec->nuser) * sizeof(__u64);
	if (len - *off < need)
		return -EINVAL;
	*r = rec;
	*kips = (const __u64 *)(rec + 1);
	*uips = *kips + rec->nkern;
	*off += need;
	return 1;
}

const char *thread_record__state(const struct thread_record *r)
{
	/* The kernel's own precedence (__task_state_index): the highest reported bit wins. */
	static const char *const names[] = {
		"sleeping", "disk", "stopped", "traced", "dead", "zombie", "parked",
	};
	unsigned int s = (r->state | r->exit_state) & TASK_REPORT;
	int bit;

	if ((r->state & TASK_IDLE) == TASK_IDLE)
		return "idle";
	if (r->state & TASK_RTLOCK_WAIT)
		return "disk";
	if (!s && (r->state & TASK_FROZEN))
		return "frozen";
	if (!s)
		return r->flags & THREAD_ON_CPU ? "running" : "runnable";
	for (bit = 6; bit > 0 && !(s & (1u << bit)); bit--)
		;
	return names[bit];
}

static bool since(uint64_t now, uint64_t stamp, uint64_t *ns)
{
	if (!now || !stamp)
		return false;
	/* Stamps come from the clocks of other CPUs: a little ahead of ours is "just now". */
	*ns = now > stamp ? now - stamp : 0;
	return true;
}

bool thread_record__state_ns(const struct thread_record *r, uint64_t *ns)
{
	const char *state = thread_record__state(r);
	uint64_t left;

	if (!strcmp(state, "running"))
		return since(r->now_ns, r->last_arrival, ns);
	if (!strcmp(state, "runnable"))
		return since(r->now_ns, r->last_queued, ns);
	if (!r->last_arrival)
		return false;
	left = r->last_arrival + r->last_run_ns;
	/* A stint that would end in the future is not CFS's: count from the arrival. */
	if (left > r->now_ns)
		left = r->last_arrival;
	return since(r->now_ns, left, ns);
}
