// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile.h"
#include "report/threads_text.h"

static void test_duration(void **st)
{
	char buf[32];

	threads_text_duration(buf, sizeof(buf), 0);
	assert_string_equal(buf, "0 ms");
	threads_text_duration(buf, sizeof(buf), 45600000);
	assert_string_equal(buf, "45 ms");
	threads_text_duration(buf, sizeof(buf), 3250000000LL);
	assert_string_equal(buf, "3.2 seconds");
	threads_text_duration(buf, sizeof(buf), 60000000000LL);
	assert_string_equal(buf, "1 minute");
	threads_text_duration(buf, sizeof(buf), 7500000000000LL);
	assert_string_equal(buf, "125 minutes");
}

/* A thread sample as the collector makes it; in_state < 0 leaves the label out. */
static void add_thread(struct profile *p, const uint64_t *locs, size_t nlocs, int pid, int tid,
		       const char *comm, const char *state, int64_t in_state)
{
	struct pf_label_desc l[6] = {
		{ .key = "pid", .num = pid },
		{ .key = "tid", .num = tid },
		{ .key = "comm", .str = comm },
		{ .key = "process", .str = pid == 10 ? "server" : "batch" },
		{ .key = "state", .str = state },
		{ .key = "in_state", .num = in_state, .num_unit = "nanoseconds" },
	};
	int64_t one = 1;

	assert_int_equal(profile__add_sample(p, locs, nlocs, &one, l, in_state < 0 ? 5 : 6), 0);
}

static char *render(const struct profile *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(threads_text_write(f, p), 0);
	fclose(f);
	return text;
}

static void test_text(void **st)
{
	struct profile *p = profile__new();
	struct pf_mapping_desc exe = { .memory_start = 0x400000,
				       .memory_limit = 0x500000,
				       .file_offset = 0x1000,
				       .filename = "/usr/bin/server" };
	struct pf_mapping_desc kernel = { .memory_start = 0xffffffff81000000ULL,
					  .memory_limit = 0xffffffff82000000ULL,
					  .filename = "[kernel.kallsyms]" };
	struct pf_line_desc sched = { .function = "schedule" };
	struct pf_line_desc accept[2] = {
		{ .function = "wait_conn", .filename = "net.c", .line = 12 }, /* inlined */
		{ .function = "serve", .filename = "server.c", .line = 40 },
	};
	struct pf_line_desc main_line = { .function = "main", .filename = "server.c", .line = 99 };
	uint64_t km, um, locs[4];
	char *text;

	assert_non_null(p);
	assert_int_equal(profile__add_sample_type(p, "threads", "count"), 0);
	km = profile__add_mapping(p, &kernel);
	um = profile__add_mapping(p, &exe);
	locs[0] = profile__add_location(p, km, 0xffffffff81000123ULL, &sched, 1);
	locs[1] = profile__add_location(p, um, 0x400abc, accept, 2);
	locs[2] = profile__add_location(p, um, 0x400def, &main_line, 1);
	locs[3] = profile__add_location(p, um, 0x401234, NULL, 0); /* not symbolized */

	/* Added out of order: printed by pid, then tid. */
	add_thread(p, locs, 3, 10, 12, "worker", "sleeping", 125LL * 60 * 1000000000);
	add_thread(p, &locs[3], 1, 20, 20, "batch", "running", -1);
	add_thread(p, &locs[2], 1, 10, 10, "server", "disk", 2500000000LL);

	text = render(p);
	assert_string_equal(text, "process 10 (server): 2 threads\n"
				  "\n"
				  "thread 10 \"server\" [disk, 2.5 seconds]:\n"
				  "main\n"
				  "\tserver.c:99\n"
				  "\n"
				  "thread 12 \"worker\" [sleeping, 125 minutes]:\n"
				  "schedule\n"
				  "\t[kernel.kallsyms]\n"
				  "wait_conn\n"
				  "\tnet.c:12\n"
				  "serve\n"
				  "\tserver.c:40\n"
				  "main\n"
				  "\tserver.c:99\n"
				  "\n"
				  "process 20 (batch): 1 thread\n"
				  "\n"
				  "thread 20 \"batch\" [running]:\n"
				  "0x401234\n"
				  "\t/usr/bin/server+0x2234\n"
				  "\n");
	free(text);
	profile__free(p);
}

static void test_empty(void **st)
{
	struct profile *p = profile__new();
	char *text;

	assert_int_equal(profile__add_sample_type(p, "threads", "count"), 0);
	text = render(p);
	assert_string_equal(text, "");
	free(text);
	profile__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
