/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one hash table of bpfprof: an open-addressing index from a key to a
 * position in an array that the caller owns.
 *
 * The table stores no keys and no values, only (folded hash, idx) pairs, 8
 * bytes a slot.  The caller keeps its entries in its own array (or any
 * storage addressed by a size_t index), computes a 64-bit hash of a key
 * (hash_bytes() for byte strings and fixed-size structs, hash_u64() for ids),
 * and supplies an equality callback that compares entry idx with a key.  So
 * one table type serves strings, structs, (pid, address) pairs and ids.
 *
 * Use:
 *	long i = hashtab__find(&t, h, eq, ctx, &key);
 *	if (i < 0) { append entry n to the array; hashtab__insert(&t, h, n); }
 *
 * Linear probing, load kept at or below one half; the table grows by
 * doubling and never shrinks.  A zeroed struct hashtab is an empty table.
 * hashtab__remove() takes one entry out (backward shift, no tombstones), for
 * caches that evict; what happens to the array entry is the caller's affair.
 * Not thread-safe; indexes up to HASHTAB_MAX_ENTRIES - 1.
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
	size_t len;  /* entries in the table */
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
/*
 * Takes out the slot that holds idx under hash; -ENOENT when there is none.
 * Other entries keep their indexes; the array entry idx is not touched.
 */
int hashtab__remove(struct hashtab *t, uint64_t hash, size_t idx);
/* Frees the slots; the table is then empty and usable again. */
void hashtab__fini(struct hashtab *t);

#endif
