// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "agent/stackcache.h"
#include "util/hash.h"
#include "util/log.h"

struct cstack {
	uint64_t id; /* 0: a free entry */
	uint32_t used_s;
	uint32_t nr, flags;
	uint64_t *ips;
};

struct stack_cache {
	struct hashtab index; /* id → entry */
	struct cstack *ents;
	size_t n, cap;
	size_t *free_list; /* indexes of free entries */
	size_t nfree;
	size_t max_bytes;
	struct stack_cache_stats st;
};

/* What an entry costs: its addresses, its slot and the index's share. */
static size_t entry_bytes(uint32_t nr)
{
	return nr * sizeof(uint64_t) + sizeof(struct cstack) + 2 * sizeof(struct hashtab_slot);
}

struct stack_cache *stack_cache__new(size_t max_bytes)
{
	struct stack_cache *c = calloc(1, sizeof(*c));

	if (c)
		c->max_bytes = max_bytes;
	return c;
}

void stack_cache__free(struct stack_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		free(c->ents[i].ips);
	free(c->ents);
	free(c->free_list);
	hashtab__fini(&c->index);
	free(c);
}

static bool id_eq(const void *ctx, size_t idx, const void *key)
{
	const struct stack_cache *c = ctx;

	return c->ents[idx].id == *(const uint64_t *)key;
}

static long find(const struct stack_cache *c, uint64_t id)
{
	return hashtab__find(&c->index, hash_u64(id), id_eq, c, &id);
}

static void drop(struct stack_cache *c, size_t i)
{
	struct cstack *e = &c->ents[i];

	hashtab__remove(&c->index, hash_u64(e->id), i);
	c->st.entries--;
	c->st.bytes -= entry_bytes(e->nr);
	free(e->ips);
	memset(e, 0, sizeof(*e));
	c->free_list[c->nfree++] = i; /* room reserved when the entry was made */
}

/* A slot for a new entry: a free one, or one more at the end. */
static long new_slot(struct stack_cache *c)
{
	size_t cap;
	void *p;

	if (c->nfree)
		return c->free_list[--c->nfree];
	if (c->n == c->cap) {
		cap = c->cap ? c->cap * 2 : 1024;
		p = realloc(c->ents, cap * sizeof(*c->ents));
		if (!p)
			return -ENOMEM;
		c->ents = p;
		p = realloc(c->free_list, cap * sizeof(*c->free_list));
		if (!p)
			return -ENOMEM;
		c->free_list = p;
		c->cap = cap;
	}
	return c->n++;
}

int stack_cache__put(struct stack_cache *c, uint64_t id, const struct stack_trace *st,
		     uint32_t now_s)
{
	uint32_t nr = st->nr > BPFPROF_MAX_STACK_DEPTH ? BPFPROF_MAX_STACK_DEPTH : st->nr;
	long i = find(c, id);
	uint64_t *ips;
	int err;

	if (i >= 0) {
		c->ents[i].used_s = now_s; /* the same stack again: same id, same frames */
		return 0;
	}
	ips = malloc(nr ? nr * sizeof(*ips) : 1);
	if (!ips)
		return -ENOMEM;
	memcpy(ips, st->ips, nr * sizeof(*ips));
	i = new_slot(c);
	if (i < 0) {
		free(ips);
		return (int)i;
	}
	err = hashtab__insert(&c->index, hash_u64(id), i);
	if (err) {
		free(ips);
		c->free_list[c->nfree++] = i;
		return err;
	}
	c->ents[i] = (struct cstack){
		.id = id, .used_s = now_s, .nr = nr, .flags = st->flags, .ips = ips
	};
	c->st.entries++;
	c->st.bytes += entry_bytes(nr);
	return 0;
}

#define DRAIN_BATCH 256

int stack_cache__drain(struct stack_cache *c, int fd, uint32_t now_s)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct stack_trace *vals;
	uint64_t keys[DRAIN_BATCH], in = 0, out = 0;
	__u32 count, i;
	bool first = true, done = false;
	int moved = 0, err = 0;

	vals = malloc(DRAIN_BATCH * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (!done) {
		count = DRAIN_BATCH;
		/* Read and delete under each bucket's lock: a stack is moved once. */
		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, vals,
						      &count, &opts);
		if (err) {
			err = -errno;
			if (err != -ENOENT)
				break;
			err = 0;
			done = true; /* the last batch, possibly with entries */
		}
		first = false;
		in = out;
		for (i = 0; i < count; i++) {
			if (stack_cache__put(c, keys[i], &vals[i], now_s))
				c->st.evicted_full++; /* no memory: as good as evicted */
			else
				moved++;
		}
	}
	free(vals);
	c->st.moved += moved;
	if (err) {
		pr_debug("cannot drain the stacks map: %s\n", strerror(-err));
		return err;
	}
	return moved;
}

void stack_cache__touch(struct stack_cache *c, uint64_t id, uint32_t now_s)
{
	long i;

	if (id < STACK_ID_MIN)
		return;
	i = find(c, id);
	if (i >= 0)
		c->ents[i].used_s = now_s;
}

int stack_cache__get(struct stack_cache *c, uint64_t id, struct stack_trace *st)
{
	long i = find(c, id);
	const struct cstack *e;

	if (i < 0) {
		c->st.misses++;
		return -ENOENT;
	}
	e = &c->ents[i];
	st->nr = e->nr;
	st->flags = e->flags;
	memcpy(st->ips, e->ips, e->nr * sizeof(*e->ips));
	return 0;
}

static int by_used(const void *a, const void *b)
{
	const struct cstack *x = *(const struct cstack *const *)a,
			    *y = *(const struct cstack *const *)b;

	return x->used_s < y->used_s ? -1 : x->used_s > y->used_s;
}

void stack_cache__expire(struct stack_cache *c, uint32_t before_s)
{
	struct cstack **order;
	size_t i, n = 0;

	for (i = 0; i < c->n; i++) {
		if (c->ents[i].id && c->ents[i].used_s < before_s) {
			drop(c, i);
			c->st.evicted_idle++;
		}
	}
	if (c->st.bytes <= c->max_bytes)
		return;
	/* Over the limit: the least recently used go first, down to 7/8 of it. */
	order = malloc(c->n * sizeof(*order));
	if (!order)
		return;
	for (i = 0; i < c->n; i++)
		if (c->ents[i].id)
			order[n++] = &c->ents[i];
	qsort(order, n, sizeof(*order), by_used);
	for (i = 0; i < n && c->st.bytes > c->max_bytes / 8 * 7; i++) {
		drop(c, order[i] - c->ents);
		c->st.evicted_full++;
	}
	free(order);
}

void stack_cache__stats(const struct stack_cache *c, struct stack_cache_stats *out)
{
	*out = c->st;
}
