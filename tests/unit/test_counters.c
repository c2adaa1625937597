// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/capture.h"
#include "profile/profile.h"
#include "util/log.h"

/* The comment of p that contains text, or NULL. */
static const char *comment_with(const struct profile *p, const char *text)
{
	const char *c;
	size_t i;

	for (i = 0; i < p->ncomments; i++) {
		c = profile__str(p, p->comments[i]);
		if (c && strstr(c, text))
			return c;
	}
	return NULL;
}

static void test_every_counter_has_a_row(void **state)
{
	const struct counter_desc *d;
	int i, j;

	(void)state;
	for (i = 0; i < CNT__MAX; i++) {
		d = &capture_counters[i];
		assert_non_null(d->name);
		assert_true(strncmp(d->name, "CNT_", 4) == 0);
		assert_non_null(d->message);
		assert_true(strlen(d->message) > 10);
		assert_true(d->kind == COUNTER_LOSS || d->kind == COUNTER_NOTE ||
			    d->kind == COUNTER_DEBUG);
		/* Two counters with one message could not be told apart in a profile. */
		for (j = 0; j < i; j++)
			assert_string_not_equal(capture_counters[j].message, d->message);
	}
	/* Rows sit at their enum index. */
	assert_string_equal(capture_counters[CNT_EVENTS].name, "CNT_EVENTS");
	assert_string_equal(capture_counters[CNT_HEAP_FAILED].name, "CNT_HEAP_FAILED");
	assert_string_equal(capture_counters[CNT__MAX - 1].name, "CNT_GROWTH_VMA_BUSY");
}

/* The counters that were never reported before the table: each reaches the profile. */
static void test_once_silent_counters_are_reported(void **state)
{
	static const enum bpfprof_counter silent[] = { CNT_HEAP_FAILED, CNT_HEAP_SAMPLED,
						       CNT_UNWIND_READ_FAILED };
	uint64_t c[CNT__MAX] = { 0 };
	struct profile *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(silent) / sizeof(silent[0]); i++) {
		assert_int_not_equal(capture_counters[silent[i]].kind, COUNTER_DEBUG);
		c[silent[i]] = 7 + i;
	}
	p = profile__new();
	assert_non_null(p);
	assert_int_equal(capture_report_counters(c, "samples", 0, p, false), 0);
	assert_int_equal(p->ncomments, 3);
	for (i = 0; i < sizeof(silent) / sizeof(silent[0]); i++)
		assert_non_null(comment_with(p, capture_counters[silent[i]].message));
	profile__free(p);
}

static void test_report_prints_the_nonzero_ones(void **state)
{
	uint64_t c[CNT__MAX] = { 0 };
	struct profile *p;
	const char *line;
	int i, want = 0;

	(void)state;
	c[CNT_EVENTS] = 200;
	c[CNT_STACK_MAP_FULL] = 50;
	c[CNT_HEAP_SAMPLED] = 3;
	c[CNT_OFFCPU_KEPT] = 9; /* DEBUG: no comment */
	p = profile__new();
	assert_non_null(p);
	assert_int_equal(capture_report_counters(c, "samples", 4, p, false), 0);
	for (i = 0; i < CNT__MAX; i++)
		want += c[i] && capture_counters[i].kind != COUNTER_DEBUG;
	assert_int_equal(p->ncomments, want + 1 /* unmapped */);
	line = comment_with(p, capture_counters[CNT_STACK_MAP_FULL].message);
	assert_non_null(line);
	/* A loss gives its share of the events. */
	assert_string_equal(line, "50 stacks lost: stack map full (25.0% of samples)");
	line = comment_with(p, capture_counters[CNT_HEAP_SAMPLED].message);
	assert_non_null(line);
	assert_true(strncmp(line, "3 ", 2) == 0);
	assert_null(comment_with(p, capture_counters[CNT_OFFCPU_KEPT].message));
	assert_null(comment_with(p, capture_counters[CNT_STACK_ERROR].message));
	assert_non_null(comment_with(p, "4 frames in no known mapping"));
	profile__free(p);
}

/* Runs the report with stderr in a file; returns what it printed (to free). */
static char *report_stderr(const uint64_t *c, bool final)
{
	struct profile *p = profile__new();
	FILE *f = tmpfile();
	char *out = calloc(1, 4096);
	int saved, n;

	assert_non_null(p);
	assert_non_null(f);
	assert_non_null(out);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	assert_int_equal(capture_report_counters(c, "samples", 0, p, final), 0);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(out, 1, 4095, f);
	out[n] = '\0';
	fclose(f);
	profile__free(p);
	return out;
}

static void test_losses_warn_only_when_final(void **state)
{
	uint64_t c[CNT__MAX] = { 0 };
	int level = log_level;
	char *out;

	(void)state;
	c[CNT_EVENTS] = 10;
	c[CNT_COUNTS_MAP_FULL] = 1;
	c[CNT_HEAP_FAILED] = 2;
	log_level = LOG_WARN;
	out = report_stderr(c, true);
	assert_non_null(strstr(out, capture_counters[CNT_COUNTS_MAP_FULL].message));
	/* A note is not a warning. */
	assert_null(strstr(out, capture_counters[CNT_HEAP_FAILED].message));
	free(out);
	/* A snapshot says nothing on stderr. */
	out = report_stderr(c, false);
	assert_string_equal(out, "");
	free(out);
	/* -v shows notes and debug counters too. */
	log_level = LOG_DEBUG;
	out = report_stderr(c, true);
	assert_non_null(strstr(out, capture_counters[CNT_HEAP_FAILED].message));
	assert_non_null(strstr(out, "CNT_EVENTS: 10 "));
	free(out);
	log_level = level;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_counter_has_a_row),
		cmocka_unit_test(test_once_silent_counters_are_reported),
		cmocka_unit_test(test_report_prints_the_nonzero_ones),
		cmocka_unit_test(test_losses_warn_only_when_final),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
