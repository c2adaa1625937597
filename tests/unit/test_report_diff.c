// SPDX-License-Identifier: Apache-2.0
/*
 * Reports beyond the top table, on profiles built by hand: the difference
 * of two profiles (profile/diff.c) and its top table and folded stacks,
 * -traces, pprof's value labels, and the SVG flame graph.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profile/diff.h"
#include "profile/profile.h"
#include "report/report.h"

static uint64_t fn(struct profile *p, const char *file, const char *name)
{
	struct pf_mapping_desc m = { .memory_start = 0x400000,
				     .memory_limit = 0x500000,
				     .filename = file };
	struct pf_line_desc line = { .function = name };
	uint64_t mapping = profile__add_mapping(p, &m);

	assert_int_not_equal(mapping, 0);
	return profile__add_location(p, mapping, 0, &line, 1);
}

static struct profile *cpu_profile(void)
{
	struct profile *p = profile__new();

	assert_non_null(p);
	assert_int_equal(profile__add_sample_type(p, "samples", "count"), 0);
	assert_int_equal(profile__add_sample_type(p, "cpu", "nanoseconds"), 0);
	assert_int_equal(profile__set_period(p, "cpu", "nanoseconds", 10000000), 0);
	return p;
}

/* A split workload: a% of 10 s in burn_a, b% in burn_b, under worker and main; pid labels. */
static struct profile *split(int a, int b, int pid)
{
	struct profile *p = cpu_profile();
	uint64_t ba = fn(p, "/bin/split", "burn_a"), bb = fn(p, "/bin/split", "burn_b"),
		 w = fn(p, "/bin/split", "worker"), m = fn(p, "/bin/split", "main");
	struct pf_label_desc l = { .key = "pid", .num = pid };

	assert_int_equal(profile__add_sample(p, (uint64_t[]){ ba, w, m }, 3,
					     (int64_t[]){ a * 10, a * 100000000LL }, &l, 1),
			 0);
	assert_int_equal(profile__add_sample(p, (uint64_t[]){ bb, w, m }, 3,
					     (int64_t[]){ b * 10, b * 100000000LL }, &l, 1),
			 0);
	p->duration_nanos = 10000000000LL;
	return p;
}

/* What fn writes, in *text (malloc'd). */
static void capture_text(int (*fn)(FILE *, void *), void *arg, char **text)
{
	size_t size = 0;
	FILE *f = open_memstream(text, &size);

	assert_non_null(f);
	assert_int_equal(fn(f, arg), 0);
	assert_int_equal(fclose(f), 0);
}

static int diff_top(FILE *f, void *p)
{
	return report_diff_top(f, p, 1, 0);
}

static void test_diff_top(void **state)
{
	struct profile *base = split(70, 30, 1), *new = split(30, 70, 2), *d;
	char *text;

	assert_int_equal(profile__diff(base, new, false, &d), 0);
	/* new - base: four samples (the pids differ, nothing cancels). */
	assert_int_equal(d->nsamples, 4);
	assert_int_equal(d->duration_nanos, 20000000000LL);
	assert_string_equal(profile__str(d, d->mappings[0].filename), "/bin/split");
	capture_text(diff_top, d, &text);
	/*
	 * burn_a -4s and burn_b +4s; worker and main did not change.  Percentages
	 * of pprof's -base total: the sum of absolute values, 20 s.
	 */
	assert_non_null(strstr(text, "Showing nodes accounting for 0, +0.00% of 20s total\n"));
	assert_non_null(strstr(text, "       -4s -20.00% -20.00%        -4s -20.00%  burn_a\n"));
	assert_non_null(strstr(text, "       +4s +20.00%  +0.00%        +4s +20.00%  burn_b\n"));
	assert_null(strstr(text, "worker"));
	assert_null(strstr(text, "main"));
	free(text);
	profile__free(d);

	/* -diff_base: base samples marked, percentages of the base's 10 s. */
	assert_int_equal(profile__diff(base, new, true, &d), 0);
	assert_int_equal(profile__diff_total(d, 1), 10000000000LL);
	capture_text(diff_top, d, &text);
	assert_non_null(strstr(text, "       -4s -40.00% -40.00%        -4s -40.00%  burn_a\n"));
	free(text);
	profile__free(d);
	profile__free(base);
	profile__free(new);
}

static void test_diff_cancels(void **state)
{
	struct profile *base = split(70, 30, 1), *new = split(60, 40, 1), *d;

	/* The same pid: equal stacks and labels merge into their difference. */
	assert_int_equal(profile__diff(base, new, false, &d), 0);
	assert_int_equal(d->nsamples, 2);
	assert_int_equal(d->samples[0].values[1], -1000000000LL);
	assert_int_equal(d->samples[1].values[1], 1000000000LL);
	assert_int_equal(profile__diff_total(d, 1), 2000000000LL);
	profile__free(d);
	/* A profile minus itself: nothing is left to show. */
	assert_int_equal(profile__diff(base, base, false, &d), 0);
	assert_int_equal(profile__diff_total(d, 1), 0);
	profile__free(d);
	profile__free(base);
	profile__free(new);
}

static void test_diff_types_differ(void **state)
{
	struct profile *cpu = split(70, 30, 1), *heap = profile__new(), *d = NULL;

	assert_non_null(heap);
	assert_int_equal(profile__add_sample_type(heap, "alloc_space", "bytes"), 0);
	assert_int_equal(profile__diff(cpu, heap, false, &d), -EDOM);
	assert_null(d);
	assert_int_equal(profile__add_sample_type(heap, "cpu", "bytes"), 0);
	assert_int_equal(profile__diff(heap, cpu, false, &d), -EDOM);
	profile__free(heap);
	profile__free(cpu);
}

struct two {
	struct profile *base, *new;
};

static int folded_diff(FILE *f, void *arg)
{
	struct two *t = arg;

	return report_folded_diff(f, t->base, 1, t->new, 1);
}

static void test_folded_diff(void **state)
{
	struct two t = { split(70, 30, 1), split(30, 0, 2) };
	char *text;

	capture_text(folded_diff, &t, &text);
	/* "stack BASE NEW", 0 where one side has none. */
	assert_string_equal(text, "main;worker;burn_a 7000000000 3000000000\n"
				  "main;worker;burn_b 3000000000 0\n");
	free(text);
	profile__free(t.base);
	profile__free(t.new);
}

static void test_scaled_label(void **state)
{
	static const struct {
		int64_t v;
		const char *unit, *want;
	} cases[] = {
		{ 121212120, "nanoseconds", "121.21ms" },
		{ 1500000000, "nanoseconds", "1.50s" },
		{ 2000000000, "nanoseconds", "2s" },
		{ 5400000000000, "nanoseconds", "1.50hrs" },
		{ 999, "nanoseconds", "999ns" },
		{ -30300000, "nanoseconds", "-30.30ms" },
		{ 0, "nanoseconds", "0" },
		{ 1536, "bytes", "1.50kB" },
		{ 3 << 20, "bytes", "3MB" },
		{ 28184, "pid", "28184" },
		{ 179, "count", "179" },
		{ 12, "seconds", "12s" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		report_scaled_label(buf, sizeof(buf), cases[i].v, cases[i].unit);
		assert_string_equal(buf, cases[i].want);
	}
}

static int traces(FILE *f, void *p)
{
	return report_traces(f, p, 1);
}

static void test_traces(void **state)
{
	struct profile *p = cpu_profile();
	struct pf_mapping_desc lib = { .memory_start = 0x7f0000000000,
				       .memory_limit = 0x7f0000100000,
				       .filename = "/lib/libz.so.1" };
	struct pf_line_desc inl[2] = { { .function = "inner" }, { .function = "outer" } };
	uint64_t app = fn(p, "/srv/app", "main"), in, bare, unknown;
	struct pf_label_desc labels[4] = {
		{ .key = "thread", .str = "worker" },
		{ .key = "comm", .str = "app" },
		{ .key = "pid", .num = 42 },
		{ .key = "bytes", .num = 2048 },
	};
	char *text;

	in = profile__add_location(p, 1, 0x400100, inl, 2);
	bare = profile__add_location(p, profile__add_mapping(p, &lib), 0x7f0000000123, NULL, 0);
	unknown = profile__add_location(p, 0, 0x1234, NULL, 0);
	assert_int_equal(profile__add_sample(p, (uint64_t[]){ bare, in, app }, 3,
					     (int64_t[]){ 3, 30300000 }, labels, 4),
			 0);
	assert_int_equal(profile__add_sample(p, (uint64_t[]){ unknown }, 1,
					     (int64_t[]){ 1, 1500000000 }, NULL, 0),
			 0);
	assert_int_equal(profile__add_comment(p, "# hidden"), 0);
	assert_int_equal(profile__add_comment(p, "shown"), 0);
	p->duration_nanos = 3000000000LL;
	capture_text(traces, p, &text);
	assert_string_equal(
		text, "File: app\n"
		      "shown\n"
		      "Type: cpu\n"
		      "Duration: 3s, Total samples = 1.53s (51.01%)\n"
		      "-----------+-------------------------------------------------------\n"
		      "      comm:  app\n"
		      "    thread:  worker\n"
		      "       pid:  42\n"
		      "     bytes:  2kB\n"
		      "   30.30ms   [libz.so.1]\n"
		      "             inner (inline)\n"
		      "             outer\n"
		      "             main\n"
		      "-----------+-------------------------------------------------------\n"
		      "     1.50s   <unknown>\n"
		      "-----------+-------------------------------------------------------\n");
	free(text);
	profile__free(p);
}

struct svg_args {
	struct profile *p;
	bool diff;
};

static int svg(FILE *f, void *arg)
{
	struct svg_args *a = arg;

	return report_svg(f, a->p, 1, a->diff);
}

static void test_svg(void **state)
{
	struct profile *p = cpu_profile();
	uint64_t odd = fn(p, "/srv/app", "operator<<(std::ostream&, \"x\")\x01\xff"),
		 k = fn(p, "[kernel.kallsyms]", "do_syscall_64"), m = fn(p, "/srv/app", "main"),
		 tiny = fn(p, "/srv/app", "tiny");
	struct svg_args a = { p, false };
	char *text;

	assert_int_equal(profile__add_sample(p, (uint64_t[]){ k, odd, m }, 3,
					     (int64_t[]){ 1, 2000000000 }, NULL, 0),
			 0);
	assert_int_equal(
		profile__add_sample(p, (uint64_t[]){ tiny, m }, 2, (int64_t[]){ 1, 10 }, NULL, 0),
		0);
	capture_text(svg, &a, &text);
	assert_non_null(strstr(text, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	assert_non_null(strstr(text, ">cpu: total 2s</text>"));
	/* Markup escaped; a control byte and a byte that is not UTF-8 replaced. */
	assert_non_null(strstr(text, "<title>operator&lt;&lt;(std::ostream&amp;, &quot;x&quot;)?? "
				     "(2s, 100.00%)</title>"));
	/* Too narrow to draw: no rectangle, no title. */
	assert_null(strstr(text, "tiny"));
	/* Kernel frames and the program's are told apart by colour. */
	assert_non_null(strstr(text, ">kernel</text>"));
	assert_true(strlen(text) > 7 && !strcmp(text + strlen(text) - 7, "</svg>\n"));
	free(text);
	profile__free(p);
}

static void test_svg_diff(void **state)
{
	struct profile *base = split(70, 30, 1), *new = split(30, 70, 2), *d;
	struct svg_args a;
	char *text, *burn;

	assert_int_equal(profile__diff(base, new, true, &d), 0);
	a = (struct svg_args){ d, true };
	capture_text(svg, &a, &text);
	assert_non_null(strstr(text, ">cpu: new 10s, base 10s, change 0</text>"));
	/* burn_a shrank most: full green; burn_b grew as much: full red. */
	burn = strstr(text,
		      "<title>burn_a (new 3s, base 7s, change -4s, -40.00% of the base&apos;s "
		      "total)</title><rect ");
	assert_non_null(burn);
	assert_ptr_equal(strstr(burn, "fill="), strstr(burn, "fill=\"rgb(55,255,55)\""));
	burn = strstr(text, "<title>burn_b (new 7s, base 3s, change +4s, +40.00%");
	assert_non_null(burn);
	assert_ptr_equal(strstr(burn, "fill="), strstr(burn, "fill=\"rgb(255,55,55)\""));
	/* worker did not change: near white. */
	burn = strstr(text, "<title>worker (new 10s, base 10s, change 0");
	assert_non_null(burn);
	assert_ptr_equal(strstr(burn, "fill="), strstr(burn, "fill=\"rgb(245,245,245)\""));
	free(text);
	profile__free(d);
	profile__free(base);
	profile__free(new);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_top),
		cmocka_unit_test(test_diff_cancels),
		cmocka_unit_test(test_diff_types_differ),
		cmocka_unit_test(test_folded_diff),
		cmocka_unit_test(test_scaled_label),
		cmocka_unit_test(test_traces),
		cmocka_unit_test(test_svg),
		cmocka_unit_test(test_svg_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
