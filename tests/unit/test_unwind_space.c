// SPDX-License-Identifier: Apache-2.0
/* The unwind rows allocator: first fit, LRU eviction, runs in use are kept. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>

#include "unwind/space.h"

static uint32_t evicted[16];
static int nevicted;

static void on_evict(void *ctx, uint32_t owner)
{
	evicted[nevicted++] = owner;
}

static void test_first_fit(void **state)
{
	struct rowspace *s = rowspace__new(100, on_evict, NULL);

	nevicted = 0;
	assert_int_equal(rowspace__alloc(s, 30, 1, 1), 0);
	assert_int_equal(rowspace__alloc(s, 30, 2, 1), 30);
	assert_int_equal(rowspace__alloc(s, 40, 3, 1), 60);
	assert_int_equal(rowspace__used(s), 100);
	assert_int_equal(nevicted, 0);
	rowspace__free(s);
}

static void test_lru_eviction(void **state)
{
	struct rowspace *s = rowspace__new(100, on_evict, NULL);

	nevicted = 0;
	rowspace__alloc(s, 40, 1, 1);
	rowspace__alloc(s, 40, 2, 2);
	rowspace__touch(s, 1, 3); /* 1 is used again: 2 is now the oldest */
	/* 50 rows: only the 20 at the end are free; 2 goes, its hole is 40 + 20. */
	assert_int_equal(rowspace__alloc(s, 50, 3, 4), 40);
	assert_int_equal(nevicted, 1);
	assert_int_equal(evicted[0], 2);
	assert_int_equal(rowspace__evictions(s), 1);
	rowspace__free(s);
}

static void test_release(void **state)
{
	struct rowspace *s = rowspace__new(100, on_evict, NULL);

	nevicted = 0;
	rowspace__alloc(s, 40, 1, 1);
	rowspace__alloc(s, 40, 2, 1);
	/* 2's file is closed: its rows are free at once, in use or not. */
	assert_true(rowspace__release(s, 2));
	assert_false(rowspace__release(s, 2));
	assert_false(rowspace__release(s, 7));
	assert_int_equal(rowspace__used(s), 40);
	assert_int_equal(rowspace__alloc(s, 60, 3, 1), 40);
	assert_int_equal(nevicted, 0);
	assert_int_equal(rowspace__evictions(s), 0);
	rowspace__free(s);
}

static void test_in_use_is_kept(void **state)
{
	struct rowspace *s = rowspace__new(100, on_evict, NULL);

	nevicted = 0;
	rowspace__alloc(s, 60, 1, 5);
	/* Run 1 was used at 5, the time of this request: it must not go. */
	assert_int_equal(rowspace__alloc(s, 60, 2, 5), -ENOSPC);
	assert_int_equal(nevicted, 0);
	/* Later, 1 is stale and makes room. */
	assert_int_equal(rowspace__alloc(s, 60, 2, 6), 0);
	assert_int_equal(nevicted, 1);
	assert_int_equal(rowspace__alloc(s, 101, 3, 7), -ENOSPC);
	rowspace__free(s);
}

static void test_fragmentation(void **state)
{
	struct rowspace *s = rowspace__new(100, on_evict, NULL);

	nevicted = 0;
	rowspace__alloc(s, 25, 1, 1);
	rowspace__alloc(s, 25, 2, 2);
	rowspace__alloc(s, 25, 3, 3);
	rowspace__alloc(s, 25, 4, 4);
	rowspace__touch(s, 2, 10);
	rowspace__touch(s, 4, 10);
	/* 1 and 3 are the oldest, but their holes are apart: 2 goes too. */
	assert_int_equal(rowspace__alloc(s, 60, 5, 11), 0);
	assert_int_equal(nevicted, 3);
	rowspace__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_fit),      cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_in_use_is_kept), cmocka_unit_test(test_release),
		cmocka_unit_test(test_fragmentation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
