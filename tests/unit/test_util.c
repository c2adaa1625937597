// SPDX-License-Identifier: Apache-2.0
/*
 * util/util.c: whole numbers and durations as the command lines take them,
 * the clocks, and the online CPUs.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/util.h"

static void test_parse_long(void **state)
{
	long v = 42;

	assert_int_equal(parse_long("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_long("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_long("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(parse_long("+7", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_long("9223372036854775807", 0, LONG_MAX, &v), 0);
	assert_int_equal(v, LONG_MAX);
}

static void test_parse_long_bad(void **state)
{
	long v = 42;

	/* Not a whole decimal number: -EINVAL, and out is left alone. */
	assert_int_equal(parse_long(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_long("", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_long("abc", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_long("12abc", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_long("1.5", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_long("5 ", 0, 10, &v), -EINVAL);
	assert_int_equal(v, 42);
	/* A number outside [min, max] or outside a long: -ERANGE. */
	assert_int_equal(parse_long("11", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_long("-1", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_long("99999999999999999999", 0, LONG_MAX, &v), -ERANGE);
	assert_int_equal(parse_long("-99999999999999999999", LONG_MIN, 0, &v), -ERANGE);
	assert_int_equal(v, 42);
}

static int64_t duration(const char *s)
{
	int64_t ns = -1;

	assert_int_equal(parse_duration_ns(s, &ns), 0);
	return ns;
}

static void test_duration_units(void **state)
{
	/* A bare number is seconds. */
	assert_int_equal(duration("30"), 30000000000LL);
	assert_int_equal(duration("1.5"), 1500000000LL);
	assert_int_equal(duration("0"), 0);
	assert_int_equal(duration("2s"), 2000000000LL);
	assert_int_equal(duration("500ms"), 500000000LL);
	assert_int_equal(duration("10us"), 10000LL);
	assert_int_equal(duration("7ns"), 7);
	assert_int_equal(duration("1m"), 60000000000LL);
	assert_int_equal(duration("2h"), 7200000000000LL);
	assert_int_equal(duration("0.25ms"), 250000LL);
	/* Rounded to the nearest nanosecond. */
	assert_int_equal(duration("1.0000000004"), 1000000000LL);
	assert_int_equal(duration("1.0000000006"), 1000000001LL);
	assert_int_equal(duration("0.5ns"), 1);
}

static void test_duration_bad(void **state)
{
	static const char *const bad[] = {
		"",   "soon", "s",   "ms", "-1", "-1ms", "1 s", "1sec", "1S",
		"1d", "nan",  "inf", "1e", " ",	 "1ms ", "ms1", "--1",
	};
	int64_t ns = 42;
	size_t i;

	assert_int_equal(parse_duration_ns(NULL, &ns), -EINVAL);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse_duration_ns(bad[i], &ns) != -EINVAL)
			fail_msg("'%s' was taken as a duration", bad[i]);
	}
	assert_int_equal(ns, 42);
}

static void test_duration_range(void **state)
{
	int64_t ns = 42;

	/* About 292 years fit in an int64_t of nanoseconds; more does not. */
	assert_int_equal(parse_duration_ns("9e9", &ns), 0);
	assert_int_equal(ns, 9000000000000000000LL);
	assert_int_equal(parse_duration_ns("1e10", &ns), -ERANGE);
	assert_int_equal(parse_duration_ns("200000000h", &ns), -ERANGE);
	assert_int_equal(ns, 9000000000000000000LL);
}

static void test_clocks(void **state)
{
	int64_t a = mono_ns(), b, w = wall_ns();
	struct timespec nap = { 0, 2000000 };

	nanosleep(&nap, NULL);
	b = mono_ns();
	assert_true(a > 0);
	assert_true(b - a >= 2000000);
	assert_true(b - a < 2000000000LL);
	/* The wall clock is in nanoseconds since 1970, as time() says in seconds. */
	assert_true(llabs(w / 1000000000LL - (long long)time(NULL)) <= 1);
}

static void test_online_cpus(void **state)
{
	long want = sysconf(_SC_NPROCESSORS_ONLN);
	bool *mask = NULL;
	int ncpus = 0, i, online = 0;

	assert_int_equal(online_cpus(&mask, &ncpus), 0);
	assert_non_null(mask);
	assert_true(ncpus >= want);
	for (i = 0; i < ncpus; i++)
		online += mask[i];
	assert_int_equal(online, want);
	/* The mask is as long as the highest online CPU needs. */
	assert_true(mask[ncpus - 1]);
	free(mask);
}

static void test_path_base(void **state)
{
	static const char path[] = "/usr/lib/libc.so.6";

	assert_ptr_equal(path_base(path), path + 9);
	assert_string_equal(path_base("libc.so.6"), "libc.so.6");
	assert_string_equal(path_base("/"), "");
	assert_string_equal(path_base("dir/"), "");
	assert_string_equal(path_base(""), "");
	assert_string_equal(path_base("[kernel.kallsyms]"), "[kernel.kallsyms]");
}

static void test_array_grow(void **state)
{
	size_t cap = 0, n;
	int *a = NULL, *b;

	/* Empty: the first capacity. */
	a = array_grow(a, &cap, 0, sizeof(*a), 4);
	assert_non_null(a);
	assert_int_equal(cap, 4);
	for (n = 0; n < 4; n++) {
		b = array_grow(a, &cap, n, sizeof(*a), 4);
		assert_ptr_equal(b, a); /* room already: the same array */
		assert_int_equal(cap, 4);
		a[n] = (int)n;
	}
	/* Full: twice the capacity, the elements kept. */
	a = array_grow(a, &cap, 4, sizeof(*a), 4);
	assert_non_null(a);
	assert_int_equal(cap, 8);
	for (n = 0; n < 4; n++)
		assert_int_equal(a[n], (int)n);
	/* A capacity whose double overflows: NULL, the capacity kept. */
	cap = SIZE_MAX / 2 + 1;
	assert_null(array_grow(a, &cap, cap, sizeof(*a), 4));
	assert_int_equal(cap, SIZE_MAX / 2 + 1);
	/* One whose doubled size in bytes overflows: NULL too. */
	cap = SIZE_MAX / 8;
	assert_null(array_grow(a, &cap, cap, sizeof(*a), 4));
	assert_int_equal(cap, SIZE_MAX / 8);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long),     cmocka_unit_test(test_parse_long_bad),
		cmocka_unit_test(test_duration_units), cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_duration_range), cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_online_cpus),    cmocka_unit_test(test_path_base),
		cmocka_unit_test(test_array_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
