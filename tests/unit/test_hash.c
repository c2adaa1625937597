// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/hash.h"

/* The caller's array: keys at their indexes. */
struct keys {
	uint64_t *k;
	size_t n;
};

static bool key_eq(const void *ctx, size_t idx, const void *key)
{
	const struct keys *ks = ctx;

	return ks->k[idx] == *(const uint64_t *)key;
}

/* A hash that sends every key to a few slots: all probing, no luck. */
static uint64_t bad_hash(uint64_t key)
{
	return key % 3;
}

static long find(const struct hashtab *t, const struct keys *ks, uint64_t key, bool bad)
{
	return hashtab__find(t, bad ? bad_hash(key) : hash_u64(key), key_eq, ks, &key);
}

static void add_keys(struct hashtab *t, struct keys *ks, size_t n, bool bad)
{
	size_t i;

	ks->k = calloc(n, sizeof(*ks->k));
	assert_non_null(ks->k);
	for (i = 0; i < n; i++) {
		ks->k[i] = 1000 + 7 * i;
		assert_int_equal(
			hashtab__insert(t, bad ? bad_hash(ks->k[i]) : hash_u64(ks->k[i]), i), 0);
		ks->n++;
	}
}

static void test_empty_table(void **state)
{
	struct hashtab t = { 0 };
	struct keys ks = { 0 };

	(void)state;
	/* A zeroed table is empty and answers without allocating. */
	assert_int_equal(find(&t, &ks, 42, false), -1);
	assert_int_equal(hashtab__remove(&t, hash_u64(42), 0), -ENOENT);
	hashtab__fini(&t);
	hashtab__fini(&t);
}

static void test_growth(void **state)
{
	struct hashtab t = { 0 };
	struct keys ks = { 0 };
	size_t i, cap_before;

	(void)state;
	add_keys(&t, &ks, 10000, false);
	assert_int_equal(t.len, 10000);
	/* Load stays at or below one half. */
	assert_true(t.len * 2 <= t.mask + 1);
	for (i = 0; i < ks.n; i++)
		assert_int_equal(find(&t, &ks, ks.k[i], false), i);
	/* Removal over runs that wrap around the end of the slots. */
	for (i = 0; i < ks.n; i += 2)
		assert_int_equal(hashtab__remove(&t, hash_u64(ks.k[i]), i), 0);
	for (i = 0; i < ks.n; i++)
		assert_int_equal(find(&t, &ks, ks.k[i], false), i % 2 ? (long)i : -1);
	assert_int_equal(t.len, 5000);
	/* Reserving what is there already moves nothing. */
	cap_before = t.mask;
	assert_int_equal(hashtab__reserve(&t, t.len), 0);
	assert_int_equal(t.mask, cap_before);
	hashtab__fini(&t);
	assert_int_equal(t.len, 0);
	assert_null(t.slots);
	free(ks.k);
}

static void test_collisions(void **state)
{
	struct hashtab t = { 0 };
	struct keys ks = { 0 };
	size_t i;

	(void)state;
	/* Every hash is 0, 1 or 2: equality alone tells the keys apart. */
	add_keys(&t, &ks, 500, true);
	for (i = 0; i < ks.n; i++)
		assert_int_equal(find(&t, &ks, ks.k[i], true), i);
	hashtab__fini(&t);
	free(ks.k);
}

static void test_absent_keys(void **state)
{
	struct hashtab t = { 0 };
	struct keys ks = { 0 };
	uint64_t key;

	(void)state;
	add_keys(&t, &ks, 300, false);
	/* Keys between and around the stored ones are not found. */
	for (key = 0; key < 4000; key++) {
		if (key >= 1000 && (key - 1000) % 7 == 0 && key < 1000 + 7 * 300)
			continue;
		assert_int_equal(find(&t, &ks, key, false), -1);
	}
	hashtab__fini(&t);
	free(ks.k);

	/* The same with colliding hashes: a run of equal hashes ends somewhere. */
	t = (struct hashtab){ 0 };
	ks = (struct keys){ 0 };
	add_keys(&t, &ks, 100, true);
	assert_int_equal(find(&t, &ks, 3, true), -1);
	assert_int_equal(find(&t, &ks, 1001, true), -1);
	hashtab__fini(&t);
	free(ks.k);
}

static void test_remove(void **state)
{
	struct hashtab t = { 0 };
	struct keys ks = { 0 };
	size_t i;
	int bad;

	(void)state;
	for (bad = 0; bad <= 1; bad++) {
		t = (struct hashtab){ 0 };
		ks = (struct keys){ 0 };
		add_keys(&t, &ks, 200, bad);
		/* Take out every third entry; the others stay reachable. */
		for (i = 0; i < ks.n; i += 3) {
			uint64_t h = bad ? bad_hash(ks.k[i]) : hash_u64(ks.k[i]);

			assert_int_equal(hashtab__remove(&t, h, i), 0);
			assert_int_equal(hashtab__remove(&t, h, i), -ENOENT);
		}
		assert_int_equal(t.len, 200 - 67);
		for (i = 0; i < ks.n; i++)
			assert_int_equal(find(&t, &ks, ks.k[i], bad), i % 3 ? (long)i : -1);
		/* A removed key can come back under a new index. */
		ks.k[0] = ks.k[3];
		assert_int_equal(
			hashtab__insert(&t, bad ? bad_hash(ks.k[0]) : hash_u64(ks.k[0]), 0), 0);
		assert_int_equal(find(&t, &ks, ks.k[0], bad), 0);
		hashtab__fini(&t);
		free(ks.k);
	}
}

static void test_limits(void **state)
{
	struct hashtab t = { 0 };

	(void)state;
	assert_int_equal(hashtab__insert(&t, 1, HASHTAB_MAX_ENTRIES), -E2BIG);
	assert_int_equal(hashtab__reserve(&t, HASHTAB_MAX_ENTRIES + 1), -E2BIG);
	assert_int_equal(t.len, 0);
	hashtab__fini(&t);
}

static void test_hash_bytes(void **state)
{
	const char a[] = "abcdefghijklmnopq", b[] = "abcdefghijklmnopr";

	(void)state;
	/* Same bytes, same hash; one byte or the seed changes it. */
	assert_int_equal(hash_bytes(a, sizeof(a), 0), hash_bytes(a, sizeof(a), 0));
	assert_int_not_equal(hash_bytes(a, sizeof(a), 0), hash_bytes(b, sizeof(b), 0));
	assert_int_not_equal(hash_bytes(a, sizeof(a), 0), hash_bytes(a, sizeof(a), 1));
	/* The length counts, even over zero bytes. */
	assert_int_not_equal(hash_bytes("\0\0", 1, 0), hash_bytes("\0\0", 2, 0));
	assert_int_not_equal(hash_u64(1), hash_u64(2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_table), cmocka_unit_test(test_growth),
		cmocka_unit_test(test_collisions),  cmocka_unit_test(test_absent_keys),
		cmocka_unit_test(test_remove),	    cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hash_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
