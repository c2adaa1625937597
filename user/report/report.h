/* SPDX-License-Identifier: Apache-2.0 */
/* Text reports of a profile, shaped like `go tool pprof`'s. */
#ifndef BPFPROF_REPORT_H
#define BPFPROF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct profile;

struct report_row {
	const char *name;
	int64_t flat;
	int64_t cum;
};

/*
 * Flat and cum per function for sample type index si, sorted as pprof's -top
 * (flat descending, then cum, then name).  *rows is malloc'd; returns the
 * number of rows or -errno.  total gets the sum over all samples.
 */
int report_functions(const struct profile *p, int si, struct report_row **rows, int64_t *total);

/* Formats v in unit ("nanoseconds", "bytes", "count", ...) the way pprof does. */
void report_format_value(char *buf, size_t len, int64_t v, const char *unit);

/*
 * Which frames on top of a sample the top table passes over (when others
 * follow), so the function that matters gets the flat share.
 */
enum report_skip {
	REPORT_SKIP_NONE,
	/*
	 * Kernel frames of samples that have user frames: for off-CPU
	 * profiles, whose stacks all start in the scheduler, so the innermost
	 * user function (the blocking call) gets the flat share.
	 */
	REPORT_SKIP_KERNEL,
	/*
	 * The C library's frames too (libc, libpthread, the dynamic loader):
	 * for lock profiles, whose stacks all start in its futex calls, so the
	 * function that called pthread_mutex_lock gets the flat share.
	 */
	REPORT_SKIP_KERNEL_LIBC,
	/*
	 * Past the leaf frame too, then as above: for heap profiles, whose leaf
	 * is always the probed allocator function (malloc, or a program's own),
	 * so the function that allocated gets the flat share.
	 */
	REPORT_SKIP_ALLOCATOR,
};

/* Prints the top n functions like `go tool pprof -top`; n <= 0 prints all. */
int report_top(FILE *out, const struct profile *p, int si, int n, enum report_skip skip);

/*
 * Folded stacks, one line per distinct stack: "root;caller;leaf VALUE", the
 * input of flamegraph.pl, inferno and speedscope.  Sorted; inlined
 * functions are frames of their own.
 */
int report_folded(FILE *out, const struct profile *p, int si);

/*
 * The same for two profiles: "stack BASE NEW" per stack of either (0 where
 * a stack is missing), the input of flamegraph.pl's differential graphs.
 */
int report_folded_diff(FILE *out, const struct profile *base, int bsi, const struct profile *p,
		       int si);

/*
 * The top table of a difference (profile/diff.h's profile__diff): flat and
 * cum changes per function with their signs, sorted by the absolute change
 * of flat as pprof's -top -base sorts them; percentages of the total
 * profile__diff_total() gives.  Functions whose changes cancel are left
 * out; n <= 0 prints all.
 */
int report_diff_top(FILE *out, const struct profile *diff, int si, int n);

/*
 * v in unit as pprof labels values (measurement.ScaledLabel, "auto"):
 * bytes and times scaled to the largest unit under v, two decimals unless
 * they are ".00"; other units as plain numbers.
 */
void report_scaled_label(char *buf, size_t len, int64_t v, const char *unit);

/* pprof's header of a report of sample type si: File, Build ID, comments, Type, Time, Duration. */
int report_header(FILE *out, const struct profile *p, int si);

/*
 * Every sample of p with its value and labels, as `go tool pprof -traces`
 * prints them (the same order, label lines, frame names and " (inline)"
 * marks).  0 or -errno.
 */
int report_traces(FILE *out, const struct profile *p, int si);

/*
 * A flame graph of sample type si as an SVG document.  With diff, p is a
 * difference whose base samples are marked (profile__diff with mark_base):
 * widths are the new profile's, colours its growth and shrink.
 */
int report_svg(FILE *out, const struct profile *p, int si, bool diff);

/* The sample type a report shows by default: default_sample_type, else the last. */
int report_default_index(const struct profile *p);

#endif
