/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room in the unwind rows map: contiguous runs of rows, one per file, and
 * the least recently used files evicted when a new one does not fit.
 */
#ifndef BPFPROF_UNWIND_SPACE_H
#define BPFPROF_UNWIND_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rowspace;

/* Called for each run evicted, before its rows are reused. */
typedef void (*rowspace_evict_fn)(void *ctx, uint32_t owner);

struct rowspace *rowspace__new(size_t cap, rowspace_evict_fn evict, void *ctx);
void rowspace__free(struct rowspace *s);
/*
 * A run of n rows for owner, first fit; when none is free, evicts runs not
 * used since before `now`, least recently used first, until one fits.
 * Returns the first row, or -ENOSPC when n rows cannot be had.
 */
long rowspace__alloc(struct rowspace *s, size_t n, uint32_t owner, uint64_t now);
/*
 * owner's run is given back now (its file is closed): no evict call, the
 * caller unpublishes it; not counted as an eviction.  False if it had none.
 */
bool rowspace__release(struct rowspace *s, uint32_t owner);
/* owner's run was used at now (a live process maps it). */
void rowspace__touch(struct rowspace *s, uint32_t owner, uint64_t now);
size_t rowspace__used(const struct rowspace *s);
uint64_t rowspace__evictions(const struct rowspace *s);

#endif
