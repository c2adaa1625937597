/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Turns the stacks that BPF captured (ids into a stack trace map) into
 * profile locations, through the symbolizer.  Shared by every profile type.
 */
#ifndef BPFPROF_STACKS_H
#define BPFPROF_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "bpfprof/types.h"

struct profile;
struct symbolizer;
struct stack_resolver;

/* Frames the resolver may add for one key: kernel + user + markers. */
#define STACKS_MAX_LOCATIONS (2 * BPFPROF_MAX_STACK_DEPTH + 2)

struct stack_resolver *stack_resolver__new(struct profile *p, struct symbolizer *sym,
					   int stacks_map_fd);
void stack_resolver__free(struct stack_resolver *r);

/*
 * Stacks looked up with fn instead of the stacks map (the agent's cache,
 * agent/stackcache.h): fn fills st, or returns -ENOENT for a stack no longer
 * kept, which becomes a marker frame.
 */
typedef int (*stack_lookup_fn)(void *ctx, __u64 id, struct stack_trace *st);
void stack_resolver__set_lookup(struct stack_resolver *r, stack_lookup_fn fn, void *ctx);

/*
 * Writes the location ids of a sample with these stacks (ids as in
 * bpfprof/common.h) of process pid, leaf first: kernel frames, then user
 * frames.  A stack that was lost becomes one marker frame such as
 * "[lost user stack: stack map full]", so the sample keeps its weight and
 * the loss shows where it happened.  Returns the number of ids or -errno.
 */
int stack_resolver__locations(struct stack_resolver *r, __u32 pid, __u64 user_stack,
			      __u64 kern_stack, uint64_t *ids, size_t max);

/*
 * The same for stacks given as addresses (innermost first) rather than ids,
 * e.g. read from a task iterator: kernel frames, then user frames; every
 * address but the first of each stack is a return address.
 */
int stack_resolver__locations_ips(struct stack_resolver *r, __u32 pid, const __u64 *uips,
				  size_t nuser, const __u64 *kips, size_t nkern, uint64_t *ids,
				  size_t max);

/* Addresses that fell in no recorded mapping (their process was gone too soon). */
uint64_t stack_resolver__unmapped(const struct stack_resolver *r);

#endif
