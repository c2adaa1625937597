// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's stack cache: what a drain moved in stays resolvable while
 * something recent uses it, idle stacks go, and the byte limit evicts the
 * least recently used first.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/stackcache.h"

static struct stack_trace trace(uint64_t base, uint32_t nr)
{
	struct stack_trace st = { .nr = nr };
	uint32_t i;

	for (i = 0; i < nr; i++)
		st.ips[i] = base + i;
	return st;
}

static void test_put_get(void **state)
{
	struct stack_cache *c = stack_cache__new(1 << 20);
	struct stack_trace st = trace(0x1000, 5), got;
	struct stack_cache_stats s;

	assert_non_null(c);
	assert_int_equal(stack_cache__put(c, 5000, &st, 1), 0);
	st.flags = STACK_TRUNCATED;
	st = trace(0x2000, 127);
	st.flags = STACK_TRUNCATED;
	assert_int_equal(stack_cache__put(c, 5001, &st, 1), 0);
	assert_int_equal(stack_cache__get(c, 5000, &got), 0);
	assert_int_equal(got.nr, 5);
	assert_int_equal(got.ips[4], 0x1004);
	assert_int_equal(stack_cache__get(c, 5001, &got), 0);
	assert_int_equal(got.nr, 127);
	assert_int_equal(got.flags, STACK_TRUNCATED);
	assert_int_equal(got.ips[126], 0x2000 + 126);
	/* The same id again (the next second's copy) is not a second entry. */
	assert_int_equal(stack_cache__put(c, 5000, &st, 2), 0);
	assert_int_equal(stack_cache__get(c, 5000, &got), 0);
	assert_int_equal(got.nr, 5);
	assert_int_equal(stack_cache__get(c, 7777, &got), -ENOENT);
	stack_cache__stats(c, &s);
	assert_int_equal(s.entries, 2);
	assert_int_equal(s.misses, 1);
	stack_cache__free(c);
}

/* Used lately (put or touched) stays; idle goes; a freed slot is reused. */
static void test_expire_idle(void **state)
{
	struct stack_cache *c = stack_cache__new(1 << 20);
	struct stack_trace st = trace(0x1000, 3), got;
	struct stack_cache_stats s;

	stack_cache__put(c, 5000, &st, 1);
	stack_cache__put(c, 5001, &st, 1);
	stack_cache__put(c, 5002, &st, 5);
	stack_cache__touch(c, 5001, 9); /* a record drained at 9 names it */
	stack_cache__touch(c, 1, 9);	/* a marker id: nothing */
	stack_cache__expire(c, 5);
	assert_int_equal(stack_cache__get(c, 5000, &got), -ENOENT);
	assert_int_equal(stack_cache__get(c, 5001, &got), 0);
	assert_int_equal(stack_cache__get(c, 5002, &got), 0);
	stack_cache__stats(c, &s);
	assert_int_equal(s.entries, 2);
	assert_int_equal(s.evicted_idle, 1);
	/* Many puts and expiries: entries and bytes follow what is kept. */
	for (uint32_t t = 10; t < 2000; t++) {
		st = trace(t << 8, 1 + t % 100);
		assert_int_equal(stack_cache__put(c, 10000 + t, &st, t), 0);
		if (t % 50 == 0)
			stack_cache__expire(c, t - 20);
	}
	stack_cache__expire(c, 1990);
	stack_cache__stats(c, &s);
	assert_int_equal(s.entries, 10);
	for (uint32_t t = 1990; t < 2000; t++) {
		assert_int_equal(stack_cache__get(c, 10000 + t, &got), 0);
		assert_int_equal(got.nr, 1 + t % 100);
		assert_int_equal(got.ips[0], (uint64_t)t << 8);
	}
	stack_cache__free(c);
}

/* Over the byte limit, the least recently used go first, to 7/8 of it. */
static void test_expire_full(void **state)
{
	struct stack_trace st = trace(0x1000, 100), got;
	struct stack_cache_stats s;
	struct stack_cache *c;
	size_t one;

	c = stack_cache__new(1 << 30);
	stack_cache__put(c, 5000, &st, 1);
	stack_cache__stats(c, &s);
	one = s.bytes;
	stack_cache__free(c);

	c = stack_cache__new(one * 10);
	for (uint64_t i = 0; i < 20; i++)
		stack_cache__put(c, 5000 + i, &st, 100 - i); /* the later ids, the older use */
	stack_cache__expire(c, 0);
	stack_cache__stats(c, &s);
	assert_true(s.bytes <= one * 10 / 8 * 7);
	assert_int_equal(s.evicted_full, 20 - s.entries);
	/* The most recently used (the lowest ids) are the ones kept. */
	for (uint64_t i = 0; i < s.entries; i++)
		assert_int_equal(stack_cache__get(c, 5000 + i, &got), 0);
	assert_int_equal(stack_cache__get(c, 5000 + s.entries, &got), -ENOENT);
	stack_cache__free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_expire_idle),
		cmocka_unit_test(test_expire_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
