// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "util/hash.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/stacks.h"
#include "symbolize/symbolize.h"

/*
 * Resolved locations are cached by (pid, address): a hot stack appears under
 * many keys (threads, kernel stacks), and symbolizing is the expensive part.
 */
struct loc_key {
	uint64_t addr;
	uint32_t pid;
};

struct loc_ent {
	struct loc_key key;
	uint64_t id;
};

struct stack_resolver {
	struct profile *p;
	struct symbolizer *sym;
	int stacks_fd;
	stack_lookup_fn lookup; /* instead of stacks_fd when set */
	void *lookup_ctx;
	struct hashtab locs; /* indexes ents by key */
	struct loc_ent *ents;
	size_t nents, ents_cap;
	uint64_t kernel_mapping;
	uint64_t unmapped;
};

struct stack_resolver *stack_resolver__new(struct profile *p, struct symbolizer *sym,
					   int stacks_map_fd)
{
	struct stack_resolver *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->p = p;
	r->sym = sym;
	r->stacks_fd = stacks_map_fd;
	return r;
}

void stack_resolver__free(struct stack_resolver *r)
{
	if (!r)
		return;
	hashtab__fini(&r->locs);
	free(r->ents);
	free(r);
}

void stack_resolver__set_lookup(struct stack_resolver *r, stack_lookup_fn fn, void *ctx)
{
	r->lookup = fn;
	r->lookup_ctx = ctx;
}

uint64_t stack_resolver__unmapped(const struct stack_resolver *r)
{
	return r->unmapped;
}

static uint64_t loc_hash(const struct loc_key *k)
{
	return hash_u64(k->addr ^ hash_u64(k->pid));
}

static bool loc_eq(const void *ctx, size_t idx, const void *key)
{
	const struct stack_resolver *r = ctx;
	const struct loc_key *k = key;

	return r->ents[idx].key.addr == k->addr && r->ents[idx].key.pid == k->pid;
}

/* Remembers id for key; a failure only leaves the address uncached. */
static void loc_cache(struct stack_resolver *r, const struct loc_key *k, uint64_t hash, uint64_t id)
{
	struct loc_ent *ents;
	size_t cap;

	if (r->nents == r->ents_cap) {
		cap = r->ents_cap ? r->ents_cap * 2 : 4096;
		ents = realloc(r->ents, cap * sizeof(*ents));
		if (!ents)
			return;
		r->ents = ents;
		r->ents_cap = cap;
	}
	if (hashtab__insert(&r->locs, hash, r->nents))
		return;
	r->ents[r->nents++] = (struct loc_ent){ .key = *k, .id = id };
}

static uint64_t add_mapping(struct stack_resolver *r, const struct sym_loc *l)
{
	struct pf_mapping_desc m = {
		.memory_start = l->map_start,
		.memory_limit = l->map_end,
		.file_offset = l->map_offset,
		.filename = l->map_file,
		.build_id = l->build_id,
		.has_functions = l->has_functions,
		.has_filenames = l->has_lines,
		.has_line_numbers = l->has_lines,
		.has_inline_frames = l->has_inlines,
	};

	return profile__add_mapping(r->p, &m);
}

/* A location for one address: symbolized, with its mapping when known. */
static uint64_t resolve(struct stack_resolver *r, uint32_t pid, uint64_t addr, bool kernel)
{
	struct pf_line_desc lines[SYM_MAX_INLINE];
	struct sym_loc l;
	uint64_t mapping = 0;
	int i, err;

	memset(&l, 0, sizeof(l));
	err = kernel ? symbolizer__kernel(r->sym, addr, &l)
		     : symbolizer__user(r->sym, pid, addr, &l);
	if (err == -ENOENT && !kernel) {
		pr_debug("pid %u: address 0x%llx in no recorded mapping\n", pid,
			 (unsigned long long)addr);
		r->unmapped++;
	}
	if (!err && l.map_file) {
		if (kernel && r->kernel_mapping) {
			mapping = r->kernel_mapping;
		} else {
			mapping = add_mapping(r, &l);
			if (kernel)
				r->kernel_mapping = mapping;
		}
	}
	for (i = 0; i < l.nframes; i++) {
		lines[i] = (struct pf_line_desc){
			.function = l.frames[i].function,
			.system_name = l.frames[i].system_name,
			.filename = l.frames[i].file,
			.line = l.frames[i].line,
			.start_line = l.frames[i].start_line,
		};
	}
	return profile__add_location(r->p, mapping, addr, lines, l.nframes);
}

static uint64_t location_for(struct stack_resolver *r, uint32_t pid, uint64_t addr, bool kernel)
{
	/* Kernel addresses are the same in every process. */
	struct loc_key k = { .addr = addr, .pid = kernel ? 0 : pid };
	uint64_t hash = loc_hash(&k), id;
	long i;

	i = hashtab__find(&r->locs, hash, loc_eq, r, &k);
	if (i >= 0)
		return r->ents[i].id;
	id = resolve(r, k.pid, addr, kernel);
	if (id)
		loc_cache(r, &k, hash, id);
	return id;
}

/* One frame named after why a stack is missing; none when it was not asked for. */
static uint64_t marker(struct stack_resolver *r, __u64 id, bool kernel)
{
	struct pf_line_desc line = { 0 };

	switch (id) {
	case STACK_ID_MAP_FULL:
		line.function = kernel ? "[lost kernel stack: stack map full]"
				       : "[lost user stack: stack map full]";
		break;
	case STACK_ID_ERROR:
		line.function = kernel ? "[lost kernel stack: capture failed]"
				       : "[lost user stack: capture failed]";
		break;
	case STACK_ID_EVICTED:
		line.function = kernel ? "[lost kernel stack: evicted from the agent's cache]"
				       : "[lost user stack: evicted from the agent's cache]";
		break;
	default:
		return 0;
	}
	return profile__add_location(r->p, 0, 0, &line, 1);
}

static int append_stack(struct stack_resolver *r, __u32 pid, __u64 id, bool kernel, uint64_t *ids,
			size_t max, size_t *n)
{
	struct stack_trace st;
	uint64_t loc, addr;
	int i;

	if (id < STACK_ID_MIN) {
		loc = marker(r, id, kernel);
		if (loc && *n < max)
			ids[(*n)++] = loc;
		return 0;
	}
	if (r->lookup) {
		if (r->lookup(r->lookup_ctx, id, &st) == -ENOENT)
			return append_stack(r, pid, STACK_ID_EVICTED, kernel, ids, max, n);
	} else if (bpf_map_lookup_elem(r->stacks_fd, &id, &st)) {
		return -errno;
	}
	for (i = 0; i < (int)st.nr && i < BPFPROF_MAX_STACK_DEPTH && *n < max; i++) {
		/*
		 * Every frame but the sampled one holds a return address: the
		 * call is the instruction before it, and so is its line.
		 */
		addr = i == 0 ? st.ips[i] : st.ips[i] - 1;
		loc = location_for(r, pid, addr, kernel);
		if (!loc)
			return -ENOMEM;
		ids[(*n)++] = loc;
	}
	if ((st.flags & STACK_TRUNCATED) && *n < max) {
		/* The unwinder stopped early: show where the stack was cut. */
		struct pf_line_desc line = { .function = "[truncated]" };

		loc = profile__add_location(r->p, 0, 0, &line, 1);
		if (!loc)
			return -ENOMEM;
		ids[(*n)++] = loc;
	}
	return 0;
}

int stack_resolver__locations(struct stack_resolver *r, __u32 pid, __u64 user_stack,
			      __u64 kern_stack, uint64_t *ids, size_t max)
{
	size_t n = 0;
	int err;

	err = append_stack(r, pid, kern_stack, true, ids, max, &n);
	if (!err)
		err = append_stack(r, pid, user_stack, false, ids, max, &n);
	if (err) {
		pr_debug("pid %u: cannot read stack: %s\n", pid, strerror(-err));
		return err;
	}
	if (n == 0 && max > 0) {
		/* e.g. a kernel thread with --user-only: keep its weight visible. */
		struct pf_line_desc line = { .function = "[no stack]" };

		ids[n] = profile__add_location(r->p, 0, 0, &line, 1);
		if (!ids[n])
			return -ENOMEM;
		n++;
	}
	return n;
}

/* Raw addresses (no stacks map), with the same return-address convention as append_stack. */
static int append_ips(struct stack_resolver *r, __u32 pid, const __u64 *ips, size_t nr, bool kernel,
		      uint64_t *ids, size_t max, size_t *n)
{
	uint64_t loc;
	size_t i;

	for (i = 0; i < nr && *n < max; i++) {
		loc = location_for(r, pid, i == 0 ? ips[i] : ips[i] - 1, kernel);
		if (!loc)
			return -ENOMEM;
		ids[(*n)++] = loc;
	}
	return 0;
}

int stack_resolver__locations_ips(struct stack_resolver *r, __u32 pid, const __u64 *uips,
				  size_t nuser, const __u64 *kips, size_t nkern, uint64_t *ids,
				  size_t max)
{
	struct pf_line_desc none = { .function = "[no stack]" };
	size_t n = 0;
	int err;

	err = append_ips(r, pid, kips, nkern, true, ids, max, &n);
	if (!err)
		err = append_ips(r, pid, uips, nuser, false, ids, max, &n);
	if (err)
		return err;
	if (n == 0 && max > 0) {
		ids[n] = profile__add_location(r->p, 0, 0, &none, 1);
		if (!ids[n])
			return -ENOMEM;
		n++;
	}
	return n;
}
