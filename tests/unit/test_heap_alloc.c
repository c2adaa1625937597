// SPDX-License-Identifier: Apache-2.0
/*
 * Which allocator bpfprof heap probes (heap/alloc.c), from real files of
 * this machine and the test workloads, the expected-slowdown arithmetic
 * of the overhead check (heap/cost.c) and the guard's verdicts while
 * attached (heap/guard.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpfprof/types.h"
#include "heap/alloc.h"
#include "heap/cost.h"
#include "heap/guard.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define JEMALLOC "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

static struct heap_allocator a;
static char why[512];

static int choose(char *const *paths, int n)
{
	memset(why, 0, sizeof(why));
	return heap_allocator_choose(paths, paths, n, false, &a, why, sizeof(why));
}

static const struct heap_func *func(const char *name)
{
	int i;

	for (i = 0; i < a.nfuncs; i++)
		if (!strcmp(a.funcs[i].name, name))
			return &a.funcs[i];
	return NULL;
}

static void test_glibc(void **state)
{
	char *paths[] = { "/proc/self/exe", LIBC };
	const struct heap_func *f;

	assert_int_equal(choose(paths, 2), 0);
	assert_string_equal(a.kind, "glibc");
	assert_string_equal(a.file, LIBC);
	f = func("malloc");
	assert_non_null(f);
	assert_int_equal(f->fn, HEAP_FN_MALLOC);
	f = func("free");
	assert_non_null(f);
	assert_int_equal(f->fn, HEAP_FN_FREE);
	/* glibc's free starts with a single-stepped test: its probe moves to an emulated jcc. */
	assert_true(f->offset > f->entry);
	assert_true(f->emulated);
	assert_non_null(func("calloc"));
	assert_non_null(func("realloc"));
	assert_non_null(func("posix_memalign"));
	/* libstdc++'s operators call malloc: never probed in glibc (it has none anyway). */
	assert_null(func("_Znwm"));
}

static void test_at_entry(void **state)
{
	char *paths[] = { LIBC };
	int i;

	assert_int_equal(heap_allocator_choose(paths, paths, 1, true, &a, why, sizeof(why)), 0);
	for (i = 0; i < a.nfuncs; i++)
		assert_true(a.funcs[i].offset == a.funcs[i].entry);
}

static void test_preloaded_wins_over_glibc(void **state)
{
	char *paths[] = { "/proc/self/exe", LIBC, JEMALLOC };

	if (access(JEMALLOC, R_OK))
		skip();
	assert_int_equal(choose(paths, 3), 0);
	assert_string_equal(a.kind, "jemalloc");
	assert_non_null(func("malloc"));
	assert_non_null(func("sdallocx"));
}

static void test_own_malloc_wins(void **state)
{
	char *paths[] = { "build/workloads/heap_own_malloc", JEMALLOC, LIBC };

	if (access(paths[0], R_OK))
		skip();
	assert_int_equal(choose(paths, 3), 0);
	assert_string_equal(a.kind, "malloc in heap_own_malloc");
	assert_non_null(func("malloc"));
	assert_non_null(func("free"));
}

static void test_no_allocator(void **state)
{
	char *paths[] = { "/proc/self/exe" };

	assert_int_equal(choose(paths, 1), -ENOENT);
	assert_non_null(strstr(why, "no allocator found"));
}

static void test_go_program(void **state)
{
	char *paths[] = { "build/workloads/goburn" };

	if (access(paths[0], R_OK))
		skip();
	assert_int_equal(choose(paths, 1), -ENOENT);
	assert_non_null(strstr(why, "Go program"));
}

static void test_unreadable_files_are_passed_over(void **state)
{
	char *paths[] = { "/nonexistent/app", "/etc/hostname", LIBC };

	assert_int_equal(choose(paths, 3), 0);
	assert_string_equal(a.kind, "glibc");
}

/* A two-function allocator: malloc probed where emulated, free single-stepped. */
static void two_funcs(void)
{
	memset(&a, 0, sizeof(a));
	a.nfuncs = 2;
	a.funcs[0] = (struct heap_func){ .fn = HEAP_FN_MALLOC, .emulated = true };
	a.funcs[1] = (struct heap_func){ .fn = HEAP_FN_FREE, .emulated = false };
}

static void test_expected_slowdown(void **state)
{
	struct heap_costs c = { .emulated_ns = 1000, .stepped_ns = 10000 };
	struct heap_rate r = { .bytes = 1000 * 64, .cpu_ns = 1000000000, .window_ns = 1000000000 };
	double per_s, probes = 1000 * 1000.0 + 1000 * 10000.0, native = 1e9 - probes;

	two_funcs();
	r.calls[0] = 1000;
	r.calls[1] = 1000;
	/* Sessions: one hit per call, plus 64000/524288 of a sample. */
	assert_float_equal(heap_expected_slowdown(&a, &c, &r, 524288, true, &per_s),
			   100 * (probes + 64000.0 / 524288 * HEAP_SAMPLE_NS) / native, 1e-9);
	assert_float_equal(per_s, 2000, 1e-9);
	/* Without: a return probe on every allocating call too. */
	assert_float_equal(
		heap_expected_slowdown(&a, &c, &r, 524288, false, &per_s),
		100 * (probes + 1000 * HEAP_RETPROBE_NS + 64000.0 / 524288 * HEAP_SAMPLE_NS) /
			native,
		1e-9);
	/* --rate 1: every allocation is a sample. */
	assert_float_equal(heap_expected_slowdown(&a, &c, &r, 1, true, &per_s),
			   100 * (probes + 1000 * HEAP_SAMPLE_NS) / native, 1e-9);
}

static void test_slowdown_edges(void **state)
{
	struct heap_costs c = { .emulated_ns = 1000, .stepped_ns = 10000 };
	struct heap_rate r = { .cpu_ns = 1000000000, .window_ns = 1000000000 };
	double per_s;

	two_funcs();
	/* No calls: no cost, whatever the CPU time. */
	assert_float_equal(heap_expected_slowdown(&a, &c, &r, 524288, true, &per_s), 0, 0);
	assert_float_equal(per_s, 0, 0);
	/* The probes took all the CPU time: the estimate is bounded, and huge. */
	r.calls[0] = r.calls[1] = 1000;
	r.cpu_ns = 11000000;
	assert_true(heap_expected_slowdown(&a, &c, &r, 524288, true, &per_s) > 1000);
}

/* While attached, the window's CPU time holds the probes' whole cost, samples too. */
static void test_slowdown_attached(void **state)
{
	struct heap_costs c = { .emulated_ns = 1000, .stepped_ns = 10000 };
	struct heap_rate r = { .bytes = 1000 * 64, .cpu_ns = 1000000000, .window_ns = 1000000000 };
	double per_s, full = 1000 * 1000.0 + 1000 * 10000.0 + 64000.0 / 524288 * HEAP_SAMPLE_NS;

	two_funcs();
	r.calls[0] = r.calls[1] = 1000;
	r.attached = true;
	assert_float_equal(heap_expected_slowdown(&a, &c, &r, 524288, true, &per_s),
			   100 * full / (1e9 - full), 1e-9);
}

/* Windows over --max-overhead count in a row; one under it starts again. */
static void test_guard_judge(void **state)
{
	struct heap_guard g = { .costs = { .emulated_ns = 1000, .stepped_ns = 10000 },
				.rate = 524288,
				.session = true,
				.max_overhead = 10 };
	struct heap_guard_target t = { .pid = 1, .alloc = &a };
	struct heap_rate busy = { .cpu_ns = 1000000000, .window_ns = 1000000000 };
	struct heap_rate quiet = busy;
	double per_s;
	int i;

	two_funcs();
	/* 20000 pairs at 11 us: 22% of a second of CPU, 28% slowdown. */
	busy.calls[0] = busy.calls[1] = 20000;
	/* 2000 pairs: 2.2% of it. */
	quiet.calls[0] = quiet.calls[1] = 2000;
	for (i = 1; i < HEAP_GUARD_WINDOWS; i++) {
		assert_true(heap_guard__judge(&g, &t, &busy, &per_s) > 10);
		assert_int_equal(t.over, i);
	}
	assert_float_equal(per_s, 40000, 1e-9);
	assert_true(heap_guard__judge(&g, &t, &quiet, &per_s) < 10);
	assert_int_equal(t.over, 0);
	for (i = 1; i <= HEAP_GUARD_WINDOWS; i++)
		heap_guard__judge(&g, &t, &busy, &per_s);
	assert_int_equal(t.over, HEAP_GUARD_WINDOWS);
	/* Exactly at the limit is not over it, as at attach. */
	g.max_overhead = heap_guard__judge(&g, &t, &busy, &per_s);
	heap_guard__judge(&g, &t, &busy, &per_s);
	assert_int_equal(t.over, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glibc),
		cmocka_unit_test(test_at_entry),
		cmocka_unit_test(test_preloaded_wins_over_glibc),
		cmocka_unit_test(test_own_malloc_wins),
		cmocka_unit_test(test_no_allocator),
		cmocka_unit_test(test_go_program),
		cmocka_unit_test(test_unreadable_files_are_passed_over),
		cmocka_unit_test(test_expected_slowdown),
		cmocka_unit_test(test_slowdown_edges),
		cmocka_unit_test(test_slowdown_attached),
		cmocka_unit_test(test_guard_judge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
