/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The profile the pprof tests encode and decode (test_pprof.c and
 * test_pprof_decode.c), and the encoding step they share.
 */
#ifndef BPFPROF_TESTS_PPROF_FIXTURE_H
#define BPFPROF_TESTS_PPROF_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "profile/pprof.h"
#include "profile/profile.h"

/* A profile with every field set, including negative and 64-bit values. */
static struct profile *full_profile(void)
{
	struct profile *p = profile__new();
	struct pf_mapping_desc exe = { .memory_start = 0x555555554000,
				       .memory_limit = 0x555555600000,
				       .file_offset = 0x1000,
				       .filename = "/usr/bin/app",
				       .build_id = "4f1c3a9e",
				       .has_functions = true,
				       .has_filenames = true,
				       .has_line_numbers = true,
				       .has_inline_frames = true };
	struct pf_mapping_desc kernel = { .memory_start = 0xffffffff81000000,
					  .memory_limit = 0xffffffffa0000000,
					  .filename = "[kernel.kallsyms]",
					  .has_functions = true };
	struct pf_line_desc inl[2] = {
		{ .function = "std::vector<int>::push_back",
		  .system_name = "_ZNSt6vectorIiE9push_backEv",
		  .filename = "vector.h",
		  .line = 1200,
		  .start_line = 1190 },
		{ .function = "main", .filename = "main.cc", .line = 42, .start_line = 30 },
	};
	struct pf_line_desc sys = { .function = "do_syscall_64", .line = -1, .start_line = -7 };
	struct pf_label_desc labels[3] = {
		{ .key = "thread", .str = "worker-1" },
		{ .key = "bytes", .num = 1 << 20, .num_unit = "bytes" },
		{ .key = "delta", .num = -5 },
	};
	uint64_t m_exe, m_k, locs[4];
	int64_t v1[2] = { 3, 30000000 }, v2[2] = { -1, (int64_t)1 << 40 };

	assert_non_null(p);
	assert_int_equal(profile__add_sample_type(p, "samples", "count"), 0);
	assert_int_equal(profile__add_sample_type(p, "cpu", "nanoseconds"), 0);
	assert_int_equal(profile__set_period(p, "cpu", "nanoseconds", 10000000), 0);
	assert_int_equal(profile__set_default_sample_type(p, "cpu"), 0);
	assert_int_equal(profile__add_comment(p, "bpfprof test"), 0);
	assert_int_equal(profile__add_comment(p, "second comment"), 0);
	m_exe = profile__add_mapping(p, &exe);
	m_k = profile__add_mapping(p, &kernel);
	locs[0] = profile__add_location(p, m_exe, 0x555555555123, inl, 2);
	locs[1] = profile__add_location(p, m_exe, 0x555555555456, inl + 1, 1);
	locs[2] = profile__add_location(p, m_k, 0xffffffff81001234, &sys, 1);
	locs[3] = profile__add_location(p, 0, 0, inl + 1, 1);
	assert_true(m_exe && m_k && locs[0] && locs[1] && locs[2] && locs[3]);
	assert_int_equal(profile__add_sample(p, locs, 4, v1, labels, 3), 0);
	assert_int_equal(profile__add_sample(p, locs + 1, 1, v2, labels + 1, 1), 0);
	assert_int_equal(profile__add_sample(p, NULL, 0, v1, NULL, 0), 0);
	p->locations[1].is_folded = true;
	p->drop_frames = profile__string(p, "runtime\\..*");
	p->keep_frames = profile__string(p, "main");
	p->time_nanos = 1700000000123456789;
	p->duration_nanos = 5000000000;
	return p;
}

static void encode(const struct profile *p, uint8_t **buf, size_t *len)
{
	assert_int_equal(pprof_encode(p, buf, len), 0);
	assert_non_null(*buf);
}

#endif
