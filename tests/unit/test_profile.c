// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failmalloc.h"
#include "profile/profile.h"

static struct profile *new_profile(void)
{
	struct profile *p = profile__new();

	assert_non_null(p);
	return p;
}

static struct profile *new_cpu_profile(void)
{
	struct profile *p = new_profile();

	assert_int_equal(profile__add_sample_type(p, "samples", "count"), 0);
	assert_int_equal(profile__add_sample_type(p, "cpu", "nanoseconds"), 0);
	return p;
}

static void test_new_and_free(void **state)
{
	struct profile *p = new_profile();

	assert_int_equal(p->nstrings, 1);
	assert_string_equal(p->strings[0], "");
	assert_int_equal(p->nsample_types, 0);
	assert_int_equal(p->nsamples, 0);
	assert_int_equal(p->nmappings + p->nlocations + p->nfunctions + p->ncomments, 0);
	assert_null(profile__mapping(p, 1));
	assert_null(profile__location(p, 0));
	profile__free(p);
	profile__free(NULL);
}

static void test_string_interning(void **state)
{
	struct profile *p = new_profile();
	char buf[32];
	int64_t a, b;

	assert_int_equal(profile__string(p, ""), 0);
	assert_int_equal(profile__string(p, NULL), 0);
	a = profile__string(p, "main");
	b = profile__string(p, "mainx");
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	/* Equal content, different pointer: the same index, and a copy is kept. */
	strcpy(buf, "main");
	assert_int_equal(profile__string(p, buf), a);
	strcpy(buf, "changed");
	assert_string_equal(profile__str(p, a), "main");
	assert_int_equal(p->nstrings, 3);

	assert_string_equal(profile__str(p, -1), "");
	assert_string_equal(profile__str(p, 3), "");
	assert_string_equal(profile__str(p, INT64_MAX), "");
	profile__free(p);
}

/* Enough strings to grow the array and rehash the table many times. */
static void test_string_interning_many(void **state)
{
	struct profile *p = new_profile();
	char buf[32];
	int i;

	for (i = 0; i < 50000; i++) {
		snprintf(buf, sizeof(buf), "sym_%d", i);
		assert_int_equal(profile__string(p, buf), i + 1);
	}
	for (i = 49999; i >= 0; i--) {
		snprintf(buf, sizeof(buf), "sym_%d", i);
		assert_int_equal(profile__string(p, buf), i + 1);
		assert_string_equal(p->strings[i + 1], buf);
	}
	assert_int_equal(p->nstrings, 50001);
	profile__free(p);
}

static void test_mapping_dedup(void **state)
{
	struct profile *p = new_profile();
	struct pf_mapping_desc base = {
		.memory_start = 0x400000,
		.memory_limit = 0x500000,
		.file_offset = 0x1000,
		.filename = "/bin/app",
		.build_id = "abcd",
		.has_functions = true,
	};
	struct pf_mapping_desc d;
	const struct pf_mapping *m;
	uint64_t id, other;
	int field;

	id = profile__add_mapping(p, &base);
	assert_int_equal(id, 1);
	d = base;
	assert_int_equal(profile__add_mapping(p, &d), id);
	/* Each field on its own makes a different mapping. */
	for (field = 0; field < 9; field++) {
		d = base;
		switch (field) {
		case 0:
			d.memory_start++;
			break;
		case 1:
			d.memory_limit++;
			break;
		case 2:
			d.file_offset++;
			break;
		case 3:
			d.filename = "/bin/other";
			break;
		case 4:
			d.build_id = NULL;
			break;
		case 5:
			d.has_functions = false;
			break;
		case 6:
			d.has_filenames = true;
			break;
		case 7:
			d.has_line_numbers = true;
			break;
		case 8:
			d.has_inline_frames = true;
			break;
		}
		other = profile__add_mapping(p, &d);
		assert_int_equal(other, field + 2);
		assert_int_equal(profile__add_mapping(p, &d), other);
	}
	assert_int_equal(p->nmappings, 10);
	m = profile__mapping(p, id);
	assert_non_null(m);
	assert_int_equal(m->id, 1);
	assert_int_equal(m->memory_start, 0x400000);
	assert_int_equal(m->memory_limit, 0x500000);
	assert_int_equal(m->file_offset, 0x1000);
	assert_string_equal(profile__str(p, m->filename), "/bin/app");
	assert_string_equal(profile__str(p, m->build_id), "abcd");
	assert_true(m->has_functions);
	assert_false(m->has_filenames);
	/* A NULL build id is "". */
	assert_int_equal(profile__mapping(p, 6)->build_id, 0);
	assert_null(profile__mapping(p, 11));
	profile__free(p);
}

/* The main binary first: ids renumbered, locations and de-duplication follow. */
static void test_lead_mapping(void **state)
{
	struct profile *p = new_cpu_profile();
	struct pf_mapping_desc k = { .memory_start = 0xffffffff81000000,
				     .memory_limit = 0xffffffffa0000000,
				     .filename = "[kernel.kallsyms]" };
	struct pf_mapping_desc libc = { .memory_start = 0x7f0000000000,
					.memory_limit = 0x7f0000100000,
					.filename = "/lib/libc.so.6" };
	struct pf_mapping_desc app = { .memory_start = 0x400000,
				       .memory_limit = 0x500000,
				       .filename = "/bin/app" };
	struct pf_line_desc fk = { .function = "do_syscall_64" }, fl = { .function = "read" },
			    fa = { .function = "main" };
	uint64_t mk, ml, ma, lk, ll, la, locs[3];
	int64_t v[2] = { 1, 10 };

	mk = profile__add_mapping(p, &k);
	ml = profile__add_mapping(p, &libc);
	ma = profile__add_mapping(p, &app);
	lk = profile__add_location(p, mk, 0xffffffff81000100, &fk, 1);
	ll = profile__add_location(p, ml, 0x7f0000000100, &fl, 1);
	la = profile__add_location(p, ma, 0x400100, &fa, 1);
	locs[0] = lk, locs[1] = ll, locs[2] = la;
	assert_int_equal(profile__add_sample(p, locs, 3, v, NULL, 0), 0);

	assert_int_equal(profile__lead_mapping(p, ma), 0);
	assert_int_equal(p->nmappings, 3);
	assert_string_equal(profile__str(p, p->mappings[0].filename), "/bin/app");
	assert_string_equal(profile__str(p, p->mappings[1].filename), "[kernel.kallsyms]");
	assert_string_equal(profile__str(p, p->mappings[2].filename), "/lib/libc.so.6");
	assert_int_equal(p->mappings[0].id, 1);
	assert_int_equal(p->mappings[1].id, 2);
	assert_int_equal(p->mappings[2].id, 3);
	assert_int_equal(profile__location(p, la)->mapping_id, 1);
	assert_int_equal(profile__location(p, lk)->mapping_id, 2);
	assert_int_equal(profile__location(p, ll)->mapping_id, 3);
	/* The tables were rebuilt: equal things are still found, not added. */
	assert_int_equal(profile__add_mapping(p, &app), 1);
	assert_int_equal(profile__add_mapping(p, &libc), 3);
	assert_int_equal(profile__add_location(p, 1, 0x400100, &fa, 1), la);
	assert_int_equal(profile__add_sample(p, locs, 3, v, NULL, 0), 0);
	assert_int_equal(p->nsamples, 1);
	assert_int_equal(p->samples[0].values[1], 20);
	/* Already first; unknown ids. */
	assert_int_equal(profile__lead_mapping(p, 1), 0);
	assert_int_equal(profile__lead_mapping(p, 9), -ENOENT);
	assert_int_equal(profile__add_mapping(p, &(struct pf_mapping_desc){ .filename = "x" }), 4);
	profile__free(p);
}

static void test_function_dedup(void **state)
{
	struct profile *p = new_profile();
	const struct pf_function *f;
	uint64_t id;

	id = profile__add_function(p, "foo", "_Z3foov", "foo.c", 10);
	assert_int_equal(id, 1);
	assert_int_equal(profile__add_function(p, "foo", "_Z3foov", "foo.c", 10), id);
	assert_int_equal(profile__add_function(p, "bar", "_Z3foov", "foo.c", 10), 2);
	assert_int_equal(profile__add_function(p, "foo", "foo", "foo.c", 10), 3);
	assert_int_equal(profile__add_function(p, "foo", "_Z3foov", "bar.c", 10), 4);
	assert_int_equal(profile__add_function(p, "foo", "_Z3foov", "foo.c", 11), 5);
	/* No system name means the same as the name. */
	assert_int_equal(profile__add_function(p, "foo", NULL, "foo.c", 10), 3);
	assert_int_equal(profile__add_function(p, "baz", NULL, NULL, 0), 6);
	assert_int_equal(p->nfunctions, 6);

	f = profile__function(p, 1);
	assert_non_null(f);
	assert_string_equal(profile__str(p, f->name), "foo");
	assert_string_equal(profile__str(p, f->system_name), "_Z3foov");
	assert_string_equal(profile__str(p, f->filename), "foo.c");
	assert_int_equal(f->start_line, 10);
	f = profile__function(p, 6);
	assert_string_equal(profile__str(p, f->system_name), "baz");
	assert_int_equal(f->filename, 0);
	profile__free(p);
}

static void test_location_dedup(void **state)
{
	struct profile *p = new_profile();
	struct pf_line_desc inl[2] = {
		{ .function = "inner", .filename = "a.c", .line = 5, .start_line = 3 },
		{ .function = "outer", .filename = "a.c", .line = 20, .start_line = 18 },
	};
	struct pf_line_desc other = { .function = "other", .line = 1 };
	const struct pf_location *l;
	uint64_t id, id0;

	id = profile__add_location(p, 1, 0x1234, inl, 2);
	assert_int_equal(id, 1);
	assert_int_equal(p->nfunctions, 2);
	/* Known by address: other lines are ignored and make no function. */
	assert_int_equal(profile__add_location(p, 1, 0x1234, &other, 1), id);
	assert_int_equal(p->nfunctions, 2);
	assert_int_equal(profile__add_location(p, 2, 0x1234, inl, 2), 2);
	assert_int_equal(profile__add_location(p, 1, 0x1235, inl, 2), 3);

	l = profile__location(p, id);
	assert_non_null(l);
	assert_int_equal(l->mapping_id, 1);
	assert_int_equal(l->address, 0x1234);
	assert_int_equal(l->nlines, 2);
	assert_string_equal(profile__str(p, profile__function(p, l->lines[0].function_id)->name),
			    "inner");
	assert_int_equal(l->lines[0].line, 5);
	assert_string_equal(profile__str(p, profile__function(p, l->lines[1].function_id)->name),
			    "outer");
	assert_int_equal(l->lines[1].line, 20);
	assert_int_equal(profile__function(p, l->lines[1].function_id)->start_line, 18);

	/* Address 0: compared by lines. */
	id0 = profile__add_location(p, 1, 0, inl, 2);
	assert_int_equal(id0, 4);
	assert_int_equal(profile__add_location(p, 1, 0, inl, 2), id0);
	assert_int_equal(profile__add_location(p, 1, 0, inl, 1), 5);
	assert_int_equal(profile__add_location(p, 2, 0, inl, 2), 6);
	inl[0].line = 6;
	assert_int_equal(profile__add_location(p, 1, 0, inl, 2), 7);
	assert_int_equal(profile__add_location(p, 1, 0, NULL, 0), 8);
	assert_int_equal(profile__add_location(p, 1, 0, NULL, 0), 8);
	assert_int_equal(p->nlocations, 8);
	assert_int_equal(p->nfunctions, 2);
	profile__free(p);
}

static void test_sample_merge(void **state)
{
	struct profile *p = new_cpu_profile();
	uint64_t stack[3] = { 1, 2, 3 }, reversed[3] = { 3, 2, 1 };
	int64_t v1[2] = { 1, 10 }, v2[2] = { 2, 20 };
	struct pf_label_desc ab[3] = {
		{ .key = "pid", .num = 42, .num_unit = "pid" },
		{ .key = "comm", .str = "app" },
		{ .key = "thread", .str = "worker" },
	};
	struct pf_label_desc ba[3] = { ab[2], ab[0], ab[1] };
	struct pf_label_desc other[3] = { ab[0], ab[1], { .key = "thread", .str = "main" } };
	const struct pf_sample *s;
	size_t i;

	assert_int_equal(profile__add_sample(p, stack, 3, v1, ab, 3), 0);
	assert_int_equal(profile__add_sample(p, stack, 3, v2, ba, 3), 0);
	assert_int_equal(p->nsamples, 1);
	s = &p->samples[0];
	assert_int_equal(s->values[0], 3);
	assert_int_equal(s->values[1], 30);
	assert_int_equal(s->nlocations, 3);
	assert_memory_equal(s->location_ids, stack, sizeof(stack));
	assert_int_equal(s->nlabels, 3);
	for (i = 1; i < s->nlabels; i++)
		assert_true(s->labels[i - 1].key < s->labels[i].key);
	for (i = 0; i < s->nlabels; i++) {
		const char *key = profile__str(p, s->labels[i].key);

		if (!strcmp(key, "pid")) {
			assert_int_equal(s->labels[i].str, 0);
			assert_int_equal(s->labels[i].num, 42);
			assert_string_equal(profile__str(p, s->labels[i].num_unit), "pid");
		} else {
			assert_int_equal(s->labels[i].num, 0);
			assert_int_equal(s->labels[i].num_unit, 0);
			assert_string_equal(profile__str(p, s->labels[i].str),
					    !strcmp(key, "comm") ? "app" : "worker");
		}
	}

	/* A different label value, stack order, label count or no labels: new samples. */
	assert_int_equal(profile__add_sample(p, stack, 3, v1, other, 3), 0);
	assert_int_equal(profile__add_sample(p, reversed, 3, v1, ab, 3), 0);
	assert_int_equal(profile__add_sample(p, stack, 2, v1, ab, 3), 0);
	assert_int_equal(profile__add_sample(p, stack, 3, v1, ab, 2), 0);
	assert_int_equal(profile__add_sample(p, stack, 3, v1, NULL, 0), 0);
	assert_int_equal(profile__add_sample(p, NULL, 0, v1, NULL, 0), 0);
	assert_int_equal(p->nsamples, 7);
	assert_int_equal(profile__add_sample(p, stack, 3, v2, NULL, 0), 0);
	assert_int_equal(profile__add_sample(p, NULL, 0, v2, NULL, 0), 0);
	assert_int_equal(p->nsamples, 7);
	assert_int_equal(p->samples[5].values[1], 30);
	assert_int_equal(p->samples[6].values[0], 3);
	profile__free(p);
}

/* More labels than fit the on-stack array. */
static void test_sample_many_labels(void **state)
{
	struct profile *p = new_cpu_profile();
	struct pf_label_desc fwd[20], rev[20];
	char keys[20][8];
	int64_t v[2] = { 1, 1 };
	uint64_t loc = 1;
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		fwd[i] = (struct pf_label_desc){ .key = keys[i], .num = i };
		rev[19 - i] = fwd[i];
	}
	assert_int_equal(profile__add_sample(p, &loc, 1, v, fwd, 20), 0);
	assert_int_equal(profile__add_sample(p, &loc, 1, v, rev, 20), 0);
	assert_int_equal(p->nsamples, 1);
	assert_int_equal(p->samples[0].nlabels, 20);
	assert_int_equal(p->samples[0].values[0], 2);
	profile__free(p);
}

static void test_sample_types_fixed(void **state)
{
	struct profile *p = new_profile();
	int64_t v[2] = { 1, 2 };
	uint64_t loc = 1;

	/* No sample types: a sample would have no values. */
	assert_int_equal(profile__add_sample(p, &loc, 1, v, NULL, 0), -EINVAL);
	assert_int_equal(profile__add_sample_type(p, "cpu", "nanoseconds"), 0);
	assert_int_equal(profile__add_sample(p, &loc, 1, v, NULL, 0), 0);
	assert_int_equal(profile__add_sample_type(p, "wall", "nanoseconds"), -EBUSY);
	assert_int_equal(p->nsample_types, 1);
	profile__free(p);
}

static void test_metadata(void **state)
{
	struct profile *p = new_cpu_profile();

	assert_int_equal(profile__sample_type_index(p, "samples"), 0);
	assert_int_equal(profile__sample_type_index(p, "cpu"), 1);
	assert_int_equal(profile__sample_type_index(p, "wall"), -1);
	assert_string_equal(profile__str(p, p->sample_types[1].unit), "nanoseconds");

	assert_int_equal(profile__set_period(p, "cpu", "nanoseconds", 10101010), 0);
	assert_string_equal(profile__str(p, p->period_type.type), "cpu");
	assert_int_equal(p->period_type.unit, p->sample_types[1].unit);
	assert_int_equal(p->period, 10101010);

	assert_int_equal(profile__set_default_sample_type(p, "cpu"), 0);
	assert_int_equal(p->default_sample_type, p->sample_types[1].type);

	assert_int_equal(profile__add_comment(p, "bpfprof 1.0"), 0);
	assert_int_equal(profile__add_comment(p, "host x"), 0);
	assert_int_equal(profile__add_comment(p, "bpfprof 1.0"), 0);
	assert_int_equal(p->ncomments, 3);
	assert_string_equal(profile__str(p, p->comments[1]), "host x");
	assert_int_equal(p->comments[0], p->comments[2]);
	profile__free(p);
}

/* Tens of thousands of locations and samples, with merging; counts and sums only. */
static void test_scale(void **state)
{
	struct profile *p = new_cpu_profile();
	struct pf_mapping_desc md = { .memory_start = 0x1000,
				      .memory_limit = 0x100000000,
				      .filename = "/bin/big" };
	struct pf_line_desc line = { .filename = "big.c" };
	struct pf_label_desc lab = { .key = "thread", .str = "t" };
	enum { NLOC = 30000, NSAMPLES = 60000 };
	uint64_t map, stack[4];
	int64_t v[2] = { 1, 100 };
	char name[32];
	int i, j;

	map = profile__add_mapping(p, &md);
	for (i = 0; i < NLOC; i++) {
		snprintf(name, sizeof(name), "fn_%d", i / 2);
		line.function = name;
		line.line = i;
		assert_int_equal(profile__add_location(p, map, 0x1000 + i * 4, &line, 1), i + 1);
	}
	assert_int_equal(p->nfunctions, NLOC / 2);
	/* Half the samples repeat the other half. */
	for (i = 0; i < NSAMPLES; i++) {
		for (j = 0; j < 4; j++)
			stack[j] = 1 + ((i % (NSAMPLES / 2)) * 7 + j) % NLOC;
		assert_int_equal(profile__add_sample(p, stack, 4, v, &lab, 1), 0);
	}
	assert_int_equal(p->nsamples, NSAMPLES / 2);
	for (i = 0; i < (int)p->nsamples; i++) {
		assert_int_equal(p->samples[i].values[0], 2);
		assert_int_equal(p->samples[i].values[1], 200);
	}
	for (i = 0; i < NLOC; i++)
		assert_int_equal(profile__location(p, i + 1)->address, 0x1000 + i * 4);
	profile__free(p);
}

/* Every kind of addition, some repeated, some with many labels. */
static void build(struct profile *p, bool ok)
{
	struct pf_mapping_desc md = { .memory_start = 0x1000,
				      .memory_limit = 0x9000,
				      .filename = "/bin/app",
				      .build_id = "0badc0de" };
	struct pf_line_desc lines[2] = {
		{ .function = "inner", .filename = "a.c", .line = 5 },
		{ .function = "outer", .system_name = "_Z5outerv", .filename = "a.c", .line = 9 },
	};
	struct pf_label_desc labels[10];
	char keys[10][4];
	uint64_t stack[3] = { 0 }, m;
	int64_t v[2] = { 1, 10 };
	int64_t s;
	int i, err;

	for (i = 0; i < 10; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		labels[i] = (struct pf_label_desc){ .key = keys[i],
						    .str = i % 2 ? "odd" : NULL,
						    .num = i,
						    .num_unit = i % 3 ? NULL : "bytes" };
	}
	/* Sample types are added once; they are fixed once samples exist. */
	err = p->nsample_types < 1 ? profile__add_sample_type(p, "samples", "count") : 0;
	if (!err && p->nsample_types < 2)
		err = profile__add_sample_type(p, "cpu", "nanoseconds");
	if (!err)
		err = profile__set_period(p, "cpu", "nanoseconds", 1000);
	if (!err)
		err = profile__set_default_sample_type(p, "cpu");
	if (!err)
		err = profile__add_comment(p, "a comment");
	assert_true(err == 0 || (!ok && err == -ENOMEM));
	s = profile__string(p, "some string");
	assert_true(s > 0 || (!ok && s == -ENOMEM));
	/* What depends on a failed call is skipped: it would add other things. */
	for (i = 0; i < 3; i++) {
		m = profile__add_mapping(p, &md);
		assert_true(m || !ok);
		stack[i] = m ? profile__add_location(p, m, 0x1000 + 16 * i, lines, 2) : 0;
		assert_true(stack[i] || !ok);
		stack[i] = profile__add_location(p, 0, 0, lines + i % 2, 1);
		assert_true(stack[i] || !ok);
	}
	for (i = 0; i < 4 && p->nsample_types == 2 && stack[0] && stack[1] && stack[2]; i++) {
		err = profile__add_sample(p, stack, 3 - i % 2, v, labels, i % 2 ? 10 : 2);
		assert_true(err == 0 || (!ok && err == -ENOMEM));
	}
}

/*
 * Out of memory at each allocation in turn: every call fails cleanly or
 * succeeds, and the profile stays consistent, so that building it again
 * afterwards gives the tables of a profile built without failures.
 */
static void test_out_of_memory(void **state)
{
	struct profile *clean, *p;
	long n;
	bool fired = true;

	if (!failmalloc_active())
		skip();
	clean = new_profile();
	build(clean, true);
	for (n = 0; fired; n++) {
		failmalloc_arm(n);
		p = profile__new();
		if (p)
			build(p, false);
		fired = failmalloc_disarm();
		if (!p) {
			assert_true(fired);
			continue;
		}
		build(p, true);
		assert_string_equal(p->strings[0], "");
		assert_int_equal(p->nstrings, clean->nstrings);
		assert_int_equal(p->nmappings, clean->nmappings);
		assert_int_equal(p->nfunctions, clean->nfunctions);
		assert_int_equal(p->nlocations, clean->nlocations);
		assert_int_equal(p->nsamples, clean->nsamples);
		assert_int_equal(p->nsample_types, 2);
		profile__free(p);
	}
	assert_true(n > 20);
	profile__free(clean);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_free),
		cmocka_unit_test(test_string_interning),
		cmocka_unit_test(test_string_interning_many),
		cmocka_unit_test(test_mapping_dedup),
		cmocka_unit_test(test_lead_mapping),
		cmocka_unit_test(test_function_dedup),
		cmocka_unit_test(test_location_dedup),
		cmocka_unit_test(test_sample_merge),
		cmocka_unit_test(test_sample_many_labels),
		cmocka_unit_test(test_sample_types_fixed),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
