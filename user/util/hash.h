/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A compact open-addressing hash table that maps a 64-bit hash to an index
 * into an array the caller owns; the caller supplies equality, so one table
 * type serves strings, structs and ids alike.  8 bytes a slot, linear
 * probing, load kept at or below one half.  No deletion: the arrays it
 * indexes only grow.
 */
#ifndef BPFPROF_HASH_H
#define BPFPROF_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashtab_slot {
	uint32_t hash; /* the 64-bit hash folded: probe start and quick reject */
	uint32_t idx;  /* entry index + 1; 0 when the slot is free */
};

struct hashtab {
	struct hashtab_slot *slots;
	size_t mask; /* slot count - 1; meaningless while slots is NULL */
	size_t len;
};

#define HASHTAB_MAX_ENTRIES ((size_t)1 << 31)

/* Does array entry idx equal key?  ctx is what the caller passed along. */
typedef bool (*hashtab_eq_fn)(const void *ctx, size_t idx, const void *key);

/* Bytes hashed a word at a time (xxhash-like rounds), chained by seed. */
uint64_t hash_bytes(const void *data, size_t len, uint64_t seed);
/* A 64-bit mix (splitmix64's finalizer), for ids and small integers. */
uint64_t hash_u64(uint64_t x);

/* The index of an entry equal to key, or -1. */
long hashtab__find(const struct hashtab *t, uint64_t hash, hashtab_eq_fn eq, const void *ctx,
		   const void *key);
/* Makes room for n entries in all, so that inserts up to n cannot fail. */
int hashtab__reserve(struct hashtab *t, size_t n);
/* Adds idx under hash (no check for an equal entry); -ENOMEM or -E2BIG. */
int hashtab__insert(struct hashtab *t, uint64_t hash, size_t idx);
/* Frees the slots; the table is then empty and usable again. */
void hashtab__fini(struct hashtab *t);

#endif
