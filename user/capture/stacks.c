// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "util/log.h"
#include "profile/profile.h"
#include "capture/stacks.h"
#include "symbolize/symbolize.h"

/*
 * Resolved locations are cached by (pid, address): a hot stack appears under
 * many keys (threads, kernel stacks), and symbolizing is the expensive part.
 */
struct loc_slot {
	uint64_t addr; /* 0: empty */
	uint32_t pid;
	uint64_t id;
};

struct stack_resolver {
	struct profile *p;
	struct symbolizer *sym;
	int stacks_fd;
	struct loc_slot *slots;
	size_t cap, used;
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
	r->cap = 4096;
	r->slots = calloc(r->cap, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	return r;
}

void stack_resolver__free(struct stack_resolver *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r);
}

uint64_t stack_resolver__unmapped(const struct stack_resolver *r)
{
	return r->unmapped;
}

static size_t slot_hash(uint32_t pid, uint64_t addr)
{
	uint64_t h = (addr ^ ((uint64_t)pid << 47) ^ pid) * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 29);
}

static struct loc_slot *slot_find(struct stack_resolver *r, uint32_t pid, uint64_t addr)
{
	size_t i = slot_hash(pid, addr) & (r->cap - 1);

	while (r->slots[i].addr && (r->slots[i].addr != addr || r->slots[i].pid != pid))
		i = (i + 1) & (r->cap - 1);
	return &r->slots[i];
}

static int slots_grow(struct stack_resolver *r)
{
	struct loc_slot *old = r->slots;
	size_t oldcap = r->cap, i;

	r->slots = calloc(oldcap * 2, sizeof(*r->slots));
	if (!r->slots) {
		r->slots = old;
		return -ENOMEM;
	}
	r->cap = oldcap * 2;
	for (i = 0; i < oldcap; i++)
		if (old[i].addr)
			*slot_find(r, old[i].pid, old[i].addr) = old[i];
	free(old);
	return 0;
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
	struct loc_slot *s;
	uint64_t id;

	/* Kernel addresses are the same in every process. */
	if (kernel)
		pid = 0;
	s = slot_find(r, pid, addr);
	if (s->addr)
		return s->id;
	id = resolve(r, pid, addr, kernel);
	if (!id)
		return 0;
	if ((r->used + 1) * 2 > r->cap) {
		if (slots_grow(r))
			return id; /* uncached, still correct */
		s = slot_find(r, pid, addr);
	}
	*s = (struct loc_slot){ .addr = addr, .pid = pid, .id = id };
	r->used++;
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
	if (bpf_map_lookup_elem(r->stacks_fd, &id, &st))
		return -errno;
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
