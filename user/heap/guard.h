/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overhead guard of the heap profile while it runs.  The attach-time
 * check (heap/cost.h) prices a process at one quiet moment; a server whose
 * traffic returns afterwards would be slowed many-fold for the rest of the
 * capture.  So BPF keeps counting every target's allocator calls (one slot
 * of counters per target process), and once a second the guard prices the
 * last second with the same model: calls, bytes and the process's CPU time,
 * the probes' whole cost taken out of it.  When a target's implied slowdown
 * stays above --max-overhead for HEAP_GUARD_WINDOWS seconds in a row, the
 * guard detaches that target's probes (what they recorded stays); when no
 * target is left probed, it ends the capture and the profile of the time
 * attached is written, with the reason.
 */
#ifndef BPFPROF_HEAP_GUARD_H
#define BPFPROF_HEAP_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "bpfprof/types.h"
#include "heap/cost.h"

struct heap_allocator;
struct profile;

/* One-second windows over the limit, in a row, before the guard detaches. */
#define HEAP_GUARD_WINDOWS 3

/*
 * The calls map's key, the cookie's bits above its function kind: a slot
 * of HEAP_MAX_PROBES counters per target process.
 */
#define HEAP_CALLS_KEY(slot, probe) ((uint32_t)(slot)*HEAP_MAX_PROBES + (uint32_t)(probe))

/*
 * Reads the call counters of one target slot (nprobes of them, summed over
 * CPUs) into r->calls and r->bytes; zero = true clears them.  0 or -errno.
 */
int heap_calls_read(int calls_fd, int slot, int nprobes, struct heap_rate *r, bool zero);

struct heap_guard_target {
	int pid;
	const struct heap_allocator *alloc;
	struct heap_rate last; /* counters and CPU time at the last tick */
	int over;	       /* windows in a row over the limit */
	bool gone;
	/* Once detached: when (ns into the capture) and what it was doing. */
	bool detached;
	int64_t detached_ns;
	double calls_per_s, slowdown;
};

struct heap_guard {
	int calls_fd;
	struct heap_costs costs;
	uint64_t rate; /* --rate */
	bool session;  /* session uprobes: no return probe on unsampled calls */
	double max_overhead;
	struct heap_guard_target *targets; /* one per slot */
	int ntargets;
	int ndetached;
	int64_t start_ns, last_ns;
	/* Closes the probes of target slot (set by the collector). */
	void (*detach)(void *ctx, int slot);
	void *detach_ctx;
};

/*
 * Takes the first reading of ntargets processes (pids[i] in slot i, with
 * allocs[i]) for a capture starting now.  0 or -errno.
 */
int heap_guard__start(struct heap_guard *g, int calls_fd, const struct heap_costs *costs,
		      uint64_t rate, bool session, double max_overhead,
		      const struct heap_allocator *allocs, const int *pids, int ntargets);
void heap_guard__free(struct heap_guard *g);

/*
 * Prices one window of one target (r->attached is set) and counts it over
 * the limit or not.  Returns the implied slowdown in percent; calls/s to
 * *calls_per_s.
 */
double heap_guard__judge(struct heap_guard *g, struct heap_guard_target *t, struct heap_rate *r,
			 double *calls_per_s);

/*
 * The session's once-a-second hook (ctx: the guard): reads every target's
 * last window; one that stayed over the limit long enough is detached,
 * with a line on stderr that says why.  Returns true (the capture ends)
 * once no target is left probed.
 */
bool heap_guard__tick(void *ctx);

/* For every target the guard detached: a comment in p that says so. */
void heap_guard__note(const struct heap_guard *g, struct profile *p);

#endif
