/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers with no better home. */
#ifndef BPFPROF_UTIL_H
#define BPFPROF_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Whole decimal number in [min, max]; -EINVAL or -ERANGE otherwise. */
int parse_long(const char *s, long min, long max, long *out);
/*
 * A size in bytes: digits with an optional k, m, g or t (powers of 1024)
 * and an optional "B" or "iB"; 1..max.  0 or -EINVAL.
 */
int parse_bytes(const char *s, uint64_t max, uint64_t *out);
/*
 * A duration: a number of seconds ("30", "1.5") or a number with a unit
 * ("500ms", "2s", "1m", "10us"); result in nanoseconds.  -EINVAL otherwise.
 */
int parse_duration_ns(const char *s, int64_t *out);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
int64_t mono_ns(void);
int64_t wall_ns(void);

/* The online CPUs from /sys/devices/system/cpu/online; -errno on failure. */
int online_cpus(bool **mask, int *ncpus);

/*
 * Room for element n in the array arr of *cap elements of size bytes: arr
 * itself while n < *cap, else arr reallocated to twice *cap elements (to
 * first when empty), *cap updated.  NULL when out of memory (arr is kept).
 */
void *array_grow(void *arr, size_t *cap, size_t n, size_t size, size_t first);

/* Whether s ends with suffix. */
bool str_has_suffix(const char *s, const char *suffix);
/* The last component of path: what follows its last '/', else all of it. */
const char *path_base(const char *path);
/*
 * Copies the next component of a '/'-separated path *p into out (cut to
 * size), and moves *p past it; false when there is none left.
 */
bool path_next_component(const char **p, char *out, size_t size);

#endif
