// SPDX-License-Identifier: Apache-2.0
/*
 * The top tables: which frame of a sample gets its flat share with kernel
 * frames left out (REPORT_SKIP_KERNEL) and the C library's too
 * (REPORT_SKIP_KERNEL_LIBC).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile.h"
#include "report/report.h"

enum { KERNEL, LIBC, APP };

static uint64_t frame(struct profile *p, int where, const char *function)
{
	static const char *const files[] = { "[kernel.kallsyms]",
					     "/usr/lib/x86_64-linux-gnu/libc.so.6", "/srv/app" };
	struct pf_mapping_desc m = { .memory_start = 0x1000 * (where + 1),
				     .memory_limit = 0x1000 * (where + 2),
				     .filename = files[where] };
	struct pf_line_desc line = { .function = function };
	uint64_t mapping = profile__add_mapping(p, &m);

	assert_int_not_equal(mapping, 0);
	/* Address 0: locations are told apart by their lines. */
	return profile__add_location(p, mapping, 0, &line, 1);
}

static void add(struct profile *p, int64_t delay, const uint64_t *locs, size_t n)
{
	int64_t values[2] = { 1, delay };

	assert_int_equal(profile__add_sample(p, locs, n, values, NULL, 0), 0);
}

/*
 * A lock profile: waits in libc's futex call under two callers, a stack
 * with a kernel frame on top, one that is all libc, one all kernel.
 */
static struct profile *lock_profile(void)
{
	struct profile *p = profile__new();
	uint64_t sched, wait, lock, start, worker, other, main_fn;

	assert_non_null(p);
	assert_int_equal(profile__add_sample_type(p, "contentions", "count"), 0);
	assert_int_equal(profile__add_sample_type(p, "delay", "nanoseconds"), 0);
	sched = frame(p, KERNEL, "__schedule");
	wait = frame(p, LIBC, "__lll_lock_wait");
	lock = frame(p, LIBC, "pthread_mutex_lock");
	start = frame(p, LIBC, "start_thread");
	worker = frame(p, APP, "worker_lock");
	other = frame(p, APP, "other_lock");
	main_fn = frame(p, APP, "main");
	add(p, 300, (uint64_t[]){ wait, lock, worker, main_fn }, 4);
	add(p, 100, (uint64_t[]){ sched, wait, lock, other, main_fn }, 5);
	add(p, 50, (uint64_t[]){ wait, start }, 2);
	add(p, 7, (uint64_t[]){ sched }, 1);
	return p;
}

/* The rows of a top table (sorted by flat, cum, name) as "name=flat" joined by spaces. */
static void rows(enum report_skip skip, const struct profile *p, char *out, size_t len)
{
	char *text = NULL, *line, *save = NULL, flat[32], name[64];
	size_t size = 0, used = 0;
	FILE *f = open_memstream(&text, &size);
	bool on = false;

	assert_non_null(f);
	assert_int_equal(report_top(f, p, 1, 0, skip), 0);
	fclose(f);
	out[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "flat%")) {
			on = true;
			continue;
		}
		if (!on || sscanf(line, "%31s %*s %*s %*s %*s %63s", flat, name) != 2)
			continue;
		used += snprintf(out + used, len - used, "%s%s=%s", used ? " " : "", name, flat);
	}
	free(text);
}

static void test_top_all_frames(void **state)
{
	struct profile *p = lock_profile();
	char got[256];

	rows(REPORT_SKIP_NONE, p, got, sizeof(got));
	/* Flat at the innermost frame: libc's wait (300 + 50), the scheduler (100 + 7). */
	assert_string_equal(got, "__lll_lock_wait=350ns __schedule=107ns main=0 "
				 "pthread_mutex_lock=0 worker_lock=0 other_lock=0 start_thread=0");
	profile__free(p);
}

static void test_top_user(void **state)
{
	struct profile *p = lock_profile();
	char got[256];

	rows(REPORT_SKIP_KERNEL, p, got, sizeof(got));
	/* The kernel frame is passed over where user frames follow, not on an all-kernel stack. */
	assert_string_equal(got, "__lll_lock_wait=450ns __schedule=7ns main=0 "
				 "pthread_mutex_lock=0 worker_lock=0 other_lock=0 start_thread=0");
	profile__free(p);
}

static void test_top_caller(void **state)
{
	struct profile *p = lock_profile();
	char got[256];

	rows(REPORT_SKIP_KERNEL_LIBC, p, got, sizeof(got));
	/*
	 * The callers of the lock get the flat share; a stack that is all libc
	 * keeps it at its first user frame, an all-kernel one at the kernel.
	 * libc frames above the caller are not counted at all.
	 */
	assert_string_equal(got, "worker_lock=300ns other_lock=100ns __lll_lock_wait=50ns "
				 "__schedule=7ns main=0 start_thread=0");
	profile__free(p);
}

/*
 * Folded stacks: root first, an inlined function after the one it was
 * inlined into, the same stack under other labels summed, zero values and
 * ';' in names left out.
 */
static void test_folded(void **state)
{
	struct profile *p = lock_profile();
	struct pf_line_desc inl[] = { { .function = "inner" }, { .function = "outer;x" } };
	struct pf_mapping_desc m = { .memory_start = 0x9000,
				     .memory_limit = 0xa000,
				     .filename = "/srv/app" };
	struct pf_label_desc tid = { .key = "tid", .num = 7 };
	uint64_t loc, main_fn = frame(p, APP, "main");
	int64_t values[2] = { 1, 5 }, zero[2] = { 1, 0 };
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	loc = profile__add_location(p, profile__add_mapping(p, &m), 0x9100, inl, 2);
	assert_int_not_equal(loc, 0);
	assert_int_equal(profile__add_sample(p, (uint64_t[]){ loc, main_fn }, 2, values, NULL, 0),
			 0);
	assert_int_equal(profile__add_sample(p, (uint64_t[]){ loc, main_fn }, 2, values, &tid, 1),
			 0);
	assert_int_equal(profile__add_sample(p, (uint64_t[]){ main_fn }, 1, zero, NULL, 0), 0);
	f = open_memstream(&text, &size);
	assert_non_null(f);
	assert_int_equal(report_folded(f, p, 1), 0);
	fclose(f);
	assert_string_equal(text,
			    "__schedule 7\n"
			    "main;other_lock;pthread_mutex_lock;__lll_lock_wait;__schedule 100\n"
			    "main;outer:x;inner 10\n"
			    "main;worker_lock;pthread_mutex_lock;__lll_lock_wait 300\n"
			    "start_thread;__lll_lock_wait 50\n");
	free(text);
	assert_int_equal(report_folded(stderr, p, 2), -EINVAL);
	profile__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_all_frames),
		cmocka_unit_test(test_top_user),
		cmocka_unit_test(test_top_caller),
		cmocka_unit_test(test_folded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
