// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/space.h"

struct run {
	size_t start, n;
	uint32_t owner;
	uint64_t last_used;
};

struct rowspace {
	size_t cap, used;
	struct run *runs; /* sorted by start */
	size_t nruns, runs_cap;
	rowspace_evict_fn evict;
	void *ctx;
	uint64_t evictions;
};

struct rowspace *rowspace__new(size_t cap, rowspace_evict_fn evict, void *ctx)
{
	struct rowspace *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = cap;
	s->evict = evict;
	s->ctx = ctx;
	return s;
}

void rowspace__free(struct rowspace *s)
{
	if (!s)
		return;
	free(s->runs);
	free(s);
}

size_t rowspace__used(const struct rowspace *s)
{
	return s->used;
}

uint64_t rowspace__evictions(const struct rowspace *s)
{
	return s->evictions;
}

/* First fit: the index to insert a run of n at, and its start; false if no gap fits. */
static int find_gap(const struct rowspace *s, size_t n, size_t *at, size_t *start)
{
	size_t prev_end = 0, i;

	for (i = 0; i <= s->nruns; i++) {
		size_t next = i < s->nruns ? s->runs[i].start : s->cap;

		if (next - prev_end >= n) {
			*at = i;
			*start = prev_end;
			return 1;
		}
		if (i < s->nruns)
			prev_end = s->runs[i].start + s->runs[i].n;
	}
	return 0;
}

static void remove_run(struct rowspace *s, size_t i)
{
	s->used -= s->runs[i].n;
	memmove(&s->runs[i], &s->runs[i + 1], (s->nruns - i - 1) * sizeof(*s->runs));
	s->nruns--;
}

/* Evicts the least recently used run not used at now; false when all are in use. */
static int evict_one(struct rowspace *s, uint64_t now)
{
	size_t i, lru = s->nruns;

	for (i = 0; i < s->nruns; i++)
		if (s->runs[i].last_used < now &&
		    (lru == s->nruns || s->runs[i].last_used < s->runs[lru].last_used))
			lru = i;
	if (lru == s->nruns)
		return 0;
	if (s->evict)
		s->evict(s->ctx, s->runs[lru].owner);
	remove_run(s, lru);
	s->evictions++;
	return 1;
}

long rowspace__alloc(struct rowspace *s, size_t n, uint32_t owner, uint64_t now)
{
	size_t at, start;

	if (n == 0 || n > s->cap)
		return -ENOSPC;
	while (!find_gap(s, n, &at, &start))
		if (!evict_one(s, now))
			return -ENOSPC;
	if (s->nruns == s->runs_cap) {
		size_t cap = s->runs_cap ? s->runs_cap * 2 : 64;
		struct run *runs = realloc(s->runs, cap * sizeof(*runs));

		if (!runs)
			return -ENOMEM;
		s->runs = runs;
		s->runs_cap = cap;
	}
	memmove(&s->runs[at + 1], &s->runs[at], (s->nruns - at) * sizeof(*s->runs));
	s->runs[at] = (struct run){ start, n, owner, now };
	s->nruns++;
	s->used += n;
	return start;
}

bool rowspace__release(struct rowspace *s, uint32_t owner)
{
	size_t i;

	for (i = 0; i < s->nruns; i++) {
		if (s->runs[i].owner == owner) {
			remove_run(s, i);
			return true;
		}
	}
	return false;
}

void rowspace__touch(struct rowspace *s, uint32_t owner, uint64_t now)
{
	size_t i;

	for (i = 0; i < s->nruns; i++)
		if (s->runs[i].owner == owner)
			s->runs[i].last_used = now;
}
