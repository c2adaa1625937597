/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the heap profile will cost a process, measured before it costs it:
 * the price of a probe hit on this machine (calibrated on bpfprof's own
 * code), the process's allocation call rate (counted for a moment with the
 * probes in counting mode), and from both the expected slowdown.
 */
#ifndef BPFPROF_HEAP_COST_H
#define BPFPROF_HEAP_COST_H

#include <stdbool.h>
#include <stdint.h>

#include "bpfprof/types.h"

struct heap_allocator;

struct heap_costs {
	double emulated_ns; /* a hit on an instruction the kernel emulates */
	double stepped_ns;  /* a hit on one it single-steps out of line */
};

/* A uretprobe (return probe) on top of its uprobe, measured earlier here. */
#define HEAP_RETPROBE_NS 1000.0
/* A sampled allocation: its stack (DWARF unwinding) and its return probe. */
#define HEAP_SAMPLE_NS 6000.0

/*
 * Attaches prog_fd (loaded for attach_type, counting nothing for cookie
 * HEAP_FN_CALIBRATE) to two functions of bpfprof itself, calls each a few
 * thousand times and measures the hits.  0 or -errno.
 */
int heap_calibrate(int prog_fd, unsigned attach_type, struct heap_costs *out);

/* What a window of counting showed. */
struct heap_rate {
	uint64_t calls[HEAP_MAX_PROBES]; /* per probed function of the allocator */
	uint64_t bytes;			 /* requested by the allocating calls */
	int64_t cpu_ns;			 /* the process's CPU time in the window */
	int64_t window_ns;
	/*
	 * The window ran with the profiling probes attached, not only counting
	 * ones: its CPU time holds their whole cost (the overhead guard).
	 */
	bool attached;
};

/*
 * The expected slowdown of the process, in percent, once profiling at
 * rate (bytes between samples) with session uprobes or without; the
 * estimate of calls per second goes to *calls_per_s.
 */
double heap_expected_slowdown(const struct heap_allocator *a, const struct heap_costs *c,
			      const struct heap_rate *r, uint64_t rate, bool session,
			      double *calls_per_s);

#endif
