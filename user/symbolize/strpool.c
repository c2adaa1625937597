// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/strpool.h"

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

struct slot {
	const char *s; /* NULL when empty */
	uint32_t hash;
	uint32_t len;
};

struct strpool {
	struct chunk *chunks; /* newest first; only the newest is filled */
	struct slot *slots;
	size_t cap; /* power of two */
	size_t n;
};

struct strpool *strpool__new(void)
{
	struct strpool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cap = 1024;
	p->slots = calloc(p->cap, sizeof(*p->slots));
	if (!p->slots) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
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
	free(p->slots);
	free(p);
}

/* FNV-1a: short keys, no need for anything stronger. */
static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static int grow(struct strpool *p)
{
	size_t cap = p->cap * 2, i, j;
	struct slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < p->cap; i++) {
		if (!p->slots[i].s)
			continue;
		for (j = p->slots[i].hash & (cap - 1); slots[j].s; j = (j + 1) & (cap - 1))
			;
		slots[j] = p->slots[i];
	}
	free(p->slots);
	p->slots = slots;
	p->cap = cap;
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
	uint32_t h = hash_bytes(s, len);
	size_t i;
	char *dst;

	if (len > UINT32_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	for (i = h & (p->cap - 1); p->slots[i].s; i = (i + 1) & (p->cap - 1)) {
		const struct slot *sl = &p->slots[i];

		if (sl->hash == h && sl->len == len && !memcmp(sl->s, s, len))
			return sl->s;
	}
	/* At most half full keeps probe sequences short. */
	if ((p->n + 1) * 2 > p->cap) {
		if (grow(p)) {
			errno = ENOMEM;
			return NULL;
		}
		for (i = h & (p->cap - 1); p->slots[i].s; i = (i + 1) & (p->cap - 1))
			;
	}
	dst = store(p, s, len);
	if (!dst) {
		errno = ENOMEM;
		return NULL;
	}
	p->slots[i] = (struct slot){ .s = dst, .hash = h, .len = len };
	p->n++;
	return dst;
}

const char *strpool__add(struct strpool *p, const char *s)
{
	return strpool__addn(p, s, strlen(s));
}
