// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/bsearch.h"

struct ent {
	uint64_t key;
	int tag;
};

/* Sorted by key, with a run of three equal keys in the middle. */
static const struct ent ents[] = {
	{ 10, 0 }, { 20, 1 }, { 30, 2 }, { 30, 3 }, { 30, 4 }, { 40, 5 },
};
#define NENTS (sizeof(ents) / sizeof(ents[0]))

static size_t upper(const struct ent *base, size_t n, uint64_t key)
{
	return bsearch_upper(base, n, key, key);
}

static int last_tag(const struct ent *base, size_t n, uint64_t key)
{
	const struct ent *e = bsearch_last_le(base, n, key, key);

	return e ? e->tag : -1;
}

static void test_empty(void **state)
{
	assert_int_equal(upper(ents, 0, 0), 0);
	assert_int_equal(upper(ents, 0, UINT64_MAX), 0);
	assert_int_equal(last_tag(ents, 0, 10), -1);
	assert_int_equal(last_tag(NULL, 0, 10), -1);
}

static void test_before_first(void **state)
{
	assert_int_equal(upper(ents, NENTS, 0), 0);
	assert_int_equal(upper(ents, NENTS, 9), 0);
	assert_int_equal(last_tag(ents, NENTS, 9), -1);
}

static void test_exact(void **state)
{
	assert_int_equal(last_tag(ents, NENTS, 10), 0);
	assert_int_equal(last_tag(ents, NENTS, 20), 1);
	assert_int_equal(last_tag(ents, NENTS, 40), 5);
	assert_int_equal(upper(ents, NENTS, 10), 1);
	assert_int_equal(upper(ents, NENTS, 20), 2);
}

static void test_between(void **state)
{
	assert_int_equal(last_tag(ents, NENTS, 11), 0);
	assert_int_equal(last_tag(ents, NENTS, 29), 1);
	assert_int_equal(last_tag(ents, NENTS, 39), 4);
	assert_int_equal(upper(ents, NENTS, 35), 5);
}

static void test_after_last(void **state)
{
	assert_int_equal(last_tag(ents, NENTS, 41), 5);
	assert_int_equal(last_tag(ents, NENTS, UINT64_MAX), 5);
	assert_int_equal(upper(ents, NENTS, UINT64_MAX), NENTS);
}

/* Equal keys: the search lands past all of them, on the last. */
static void test_duplicates(void **state)
{
	static const struct ent same[] = { { 5, 0 }, { 5, 1 }, { 5, 2 } };

	assert_int_equal(upper(ents, NENTS, 30), 5);
	assert_int_equal(last_tag(ents, NENTS, 30), 4);
	assert_int_equal(upper(same, 3, 5), 3);
	assert_int_equal(last_tag(same, 3, 5), 2);
	assert_int_equal(last_tag(same, 3, 4), -1);
}

/* Every prefix length against every key, checked against a linear scan. */
static void test_every_prefix(void **state)
{
	size_t n, i, want;
	uint64_t k;

	for (n = 0; n <= NENTS; n++) {
		for (k = 0; k <= 45; k++) {
			for (i = 0, want = 0; i < n; i++)
				if (ents[i].key <= k)
					want = i + 1;
			assert_int_equal(upper(ents, n, k), want);
			assert_int_equal(last_tag(ents, n, k), want ? ents[want - 1].tag : -1);
		}
	}
}

/* The arguments are evaluated once each, in any field and key type. */
static void test_single_evaluation(void **state)
{
	static const struct {
		uint32_t pc;
	} rows[] = { { 4 }, { 8 } };
	int calls_n = 0, calls_key = 0, calls_base = 0;
	size_t i;

	i = bsearch_upper((calls_base++, rows), (calls_n++, 2), (calls_key++, (uint32_t)5), pc);
	assert_int_equal(i, 1);
	assert_int_equal(calls_base, 1);
	assert_int_equal(calls_n, 1);
	assert_int_equal(calls_key, 1);
	calls_base = calls_n = calls_key = 0;
	assert_ptr_equal(
		bsearch_last_le((calls_base++, rows), (calls_n++, 2), (calls_key++, 9u), pc),
		&rows[1]);
	assert_int_equal(calls_base, 1);
	assert_int_equal(calls_n, 1);
	assert_int_equal(calls_key, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),	     cmocka_unit_test(test_before_first),
		cmocka_unit_test(test_exact),	     cmocka_unit_test(test_between),
		cmocka_unit_test(test_after_last),   cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_every_prefix), cmocka_unit_test(test_single_evaluation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
