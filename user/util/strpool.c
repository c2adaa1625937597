// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/strpool.h"
#include "util/hash.h"
#include "util/util.h"

/*
 * Strings are copied into large chunks rather than malloc'd one by one:
 * symbol names are short and numerous, and a chunk never moves, so the
 * pointers handed out stay valid.
 */
#define CHUNK_SIZE (64 * 1024)

struct chunk {
	struct chunk *next;
	size_t used;
	size_t size;
	char data[];
};

struct entry {
	const char *s;
	size_t len;
};

struct strpool {
	struct chunk *chunks; /* newest first; only the newest is filled */
	struct entry *ents;   /* every string once, indexed by the table */
	size_t n, cap;
	struct hashtab tab;
};

struct strpool *strpool__new(void)
{
	return calloc(1, sizeof(struct strpool));
}

void strpool__free(struct strpool *p)
{
	struct chunk *c, *next;

	if (!p)
		return;
	for (c = p->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	hashtab__fini(&p->tab);
	free(p->ents);
	free(p);
}

struct key {
	const char *s;
	size_t len;
};

static bool entry_eq(const void *ctx, size_t idx, const void *key)
{
	const struct entry *e = &((const struct strpool *)ctx)->ents[idx];
	const struct key *k = key;

	return e->len == k->len && !memcmp(e->s, k->s, k->len);
}

static int grow(struct strpool *p)
{
	struct entry *ents = array_grow(p->ents, &p->cap, p->n, sizeof(*ents), 1024);

	if (!ents)
		return -ENOMEM;
	p->ents = ents;
	return 0;
}

static char *store(struct strpool *p, const char *s, size_t len)
{
	struct chunk *c = p->chunks;
	char *dst;

	if (!c || c->size - c->used < len + 1) {
		/* A string too big for a chunk gets one of its own. */
		size_t size = len + 1 > CHUNK_SIZE / 4 ? len + 1 : CHUNK_SIZE;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = size;
		if (size == CHUNK_SIZE || !p->chunks) {
			c->next = p->chunks;
			p->chunks = c;
		} else {
			/* Keep the partly filled chunk in front for later strings. */
			c->next = p->chunks->next;
			p->chunks->next = c;
		}
	}
	dst = c->data + c->used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	c->used += len + 1;
	return dst;
}

const char *strpool__addn(struct strpool *p, const char *s, size_t len)
{
	struct key k = { s, len };
	uint64_t h = hash_bytes(s, len, 0);
	long idx;
	char *dst;

	idx = hashtab__find(&p->tab, h, entry_eq, p, &k);
	if (idx >= 0)
		return p->ents[idx].s;
	/* Room first, so that a string stored is also found. */
	if ((p->n == p->cap && grow(p)) || hashtab__reserve(&p->tab, p->n + 1)) {
		errno = ENOMEM;
		return NULL;
	}
	dst = store(p, s, len);
	if (!dst) {
		errno = ENOMEM;
		return NULL;
	}
	p->ents[p->n] = (struct entry){ .s = dst, .len = len };
	hashtab__insert(&p->tab, h, p->n); /* cannot fail: reserved */
	p->n++;
	return dst;
}

const char *strpool__add(struct strpool *p, const char *s)
{
	return strpool__addn(p, s, strlen(s));
}

size_t strpool__bytes(const struct strpool *p)
{
	const struct chunk *c;
	size_t n = sizeof(*p) + p->cap * sizeof(*p->ents);

	if (p->tab.slots)
		n += (p->tab.mask + 1) * sizeof(*p->tab.slots);
	for (c = p->chunks; c; c = c->next)
		n += sizeof(*c) + c->size;
	return n;
}
