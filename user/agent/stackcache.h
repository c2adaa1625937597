/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's copy of the stacks BPF captured.  Each drain moves every
 * stack out of the kernel's stacks map into this cache (so the map only
 * ever holds about a second of new stacks), and records keep their stack
 * ids: a profile built minutes later, or an aggregate whose stack was
 * captured long before it was counted (a futex wait), resolves them here.
 * An entry lives while something recent uses it; memory is bounded, and
 * what is evicted is counted.  Not thread-safe: the agent's main thread.
 */
#ifndef BPFPROF_AGENT_STACKCACHE_H
#define BPFPROF_AGENT_STACKCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "bpfprof/types.h"

struct stack_cache;

struct stack_cache_stats {
	uint64_t entries, bytes;
	uint64_t moved;	       /* stacks moved out of the kernel map */
	uint64_t evicted_idle; /* unused for longer than the keep time */
	uint64_t evicted_full; /* the oldest used, to stay under the byte limit */
	uint64_t misses;       /* ids asked for and not found (evicted, or never seen) */
};

struct stack_cache *stack_cache__new(size_t max_bytes);
void stack_cache__free(struct stack_cache *c);

/*
 * Moves every stack of the stacks map fd into the cache, marked as used at
 * now_s.  Returns how many, or -errno.
 */
int stack_cache__drain(struct stack_cache *c, int fd, uint32_t now_s);
/* Adds stack id (or marks it used when kept): 0 or -errno.  The drain's step, for tests. */
int stack_cache__put(struct stack_cache *c, uint64_t id, const struct stack_trace *st,
		     uint32_t now_s);
/* Marks id as used at now_s (a record or an aggregate still holds it). */
void stack_cache__touch(struct stack_cache *c, uint64_t id, uint32_t now_s);
/* Fills st (nr, flags, ips) with stack id: 0, or -ENOENT. */
int stack_cache__get(struct stack_cache *c, uint64_t id, struct stack_trace *st);
/* Evicts what was last used before before_s, then the oldest while over the limit. */
void stack_cache__expire(struct stack_cache *c, uint32_t before_s);
void stack_cache__stats(const struct stack_cache *c, struct stack_cache_stats *out);

#endif
