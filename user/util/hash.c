// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

#define PRIME1 0x9e3779b185ebca87ULL
#define PRIME2 0xc2b2ae3d27d4eb4fULL

static uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t round64(uint64_t h, uint64_t w)
{
	return rotl64(h ^ (w * PRIME2), 31) * PRIME1;
}

uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = seed ^ ((uint64_t)len * PRIME1);
	uint64_t w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8); /* unaligned-safe; the compiler makes it one load */
		h = round64(h, w);
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = round64(h, w);
	}
	return hash_u64(h);
}

static uint32_t fold(uint64_t hash)
{
	return (uint32_t)(hash ^ (hash >> 32));
}

long hashtab__find(const struct hashtab *t, uint64_t hash, hashtab_eq_fn eq, const void *ctx,
		   const void *key)
{
	uint32_t h = fold(hash);
	size_t i;

	if (!t->slots)
		return -1;
	for (i = h & t->mask; t->slots[i].idx; i = (i + 1) & t->mask) {
		if (t->slots[i].hash == h && eq(ctx, t->slots[i].idx - 1, key))
			return (long)t->slots[i].idx - 1;
	}
	return -1;
}

static void place(struct hashtab_slot *slots, size_t mask, struct hashtab_slot s)
{
	size_t i;

	for (i = s.hash & mask; slots[i].idx; i = (i + 1) & mask)
		;
	slots[i] = s;
}

int hashtab__reserve(struct hashtab *t, size_t n)
{
	struct hashtab_slot *slots;
	size_t cap = 16, i;

	if (n > HASHTAB_MAX_ENTRIES)
		return -E2BIG;
	if (t->slots && n <= (t->mask + 1) / 2)
		return 0;
	while (cap / 2 < n)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (t->slots) {
		for (i = 0; i <= t->mask; i++) {
			if (t->slots[i].idx)
				place(slots, cap - 1, t->slots[i]);
		}
	}
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	return 0;
}

int hashtab__insert(struct hashtab *t, uint64_t hash, size_t idx)
{
	struct hashtab_slot s = { .hash = fold(hash) };
	int err;

	if (idx >= HASHTAB_MAX_ENTRIES)
		return -E2BIG;
	err = hashtab__reserve(t, t->len + 1);
	if (err)
		return err;
	s.idx = (uint32_t)idx + 1;
	place(t->slots, t->mask, s);
	t->len++;
	return 0;
}

/* Is slot j's home at or before the hole at i, walking the probe order from j? */
static bool may_fill(size_t home, size_t hole, size_t j, size_t mask)
{
	return ((j - home) & mask) >= ((j - hole) & mask);
}

int hashtab__remove(struct hashtab *t, uint64_t hash, size_t idx)
{
	uint32_t h = fold(hash);
	size_t i, j;

	if (!t->slots || idx >= HASHTAB_MAX_ENTRIES)
		return -ENOENT;
	for (i = h & t->mask; t->slots[i].idx; i = (i + 1) & t->mask) {
		if (t->slots[i].hash == h && t->slots[i].idx == idx + 1)
			break;
	}
	if (!t->slots[i].idx)
		return -ENOENT;
	/*
	 * Backward shift: later slots of the same run move into the hole when
	 * their home is not between the hole and themselves, so every probe
	 * sequence stays unbroken without tombstones.
	 */
	for (j = (i + 1) & t->mask; t->slots[j].idx; j = (j + 1) & t->mask) {
		if (may_fill(t->slots[j].hash & t->mask, i, j, t->mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = (struct hashtab_slot){ 0 };
	t->len--;
	return 0;
}

void hashtab__fini(struct hashtab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->len = 0;
}
