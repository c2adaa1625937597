// SPDX-License-Identifier: Apache-2.0
/*
 * The flame graph page's data (report/flame.c): tables shared and merged,
 * values in the page's sample type order for a diff, escaping, the page
 * around it; then the page's own tree code (web/flame.js) under node on the
 * data written here (tests/unit/flame_test.js): totals, merging, recursion,
 * label filters, sample types, the diff.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "profile/profile.h"
#include "report/flame.h"

enum { KERNEL, LIBC, APP };

static uint64_t mapping(struct profile *p, int where)
{
	static const char *const files[] = { "[kernel.kallsyms]",
					     "/usr/lib/x86_64-linux-gnu/libc.so.6", "/srv/app" };
	struct pf_mapping_desc m = { .memory_start = 0x100000 * (where + 1),
				     .memory_limit = 0x100000 * (where + 2),
				     .filename = files[where] };
	uint64_t id = profile__add_mapping(p, &m);

	assert_int_not_equal(id, 0);
	return id;
}

static uint64_t loc(struct profile *p, int where, uint64_t addr, const char *fn, int64_t line)
{
	struct pf_line_desc l = { .function = fn, .filename = "app.c", .line = line };
	uint64_t id = profile__add_location(p, mapping(p, where), addr, &l, 1);

	assert_int_not_equal(id, 0);
	return id;
}

static void sample(struct profile *p, const uint64_t *locs, size_t n, int64_t count, int64_t cpu,
		   const char *pid, bool cpu_first)
{
	struct pf_label_desc labels[2] = { { .key = "pid", .str = pid },
					   { .key = "comm", .str = "app" } };
	int64_t v[2] = { count, cpu };

	if (cpu_first) {
		v[0] = cpu;
		v[1] = count;
	}
	assert_int_equal(profile__add_sample(p, locs, n, v, labels, 2), 0);
}

/*
 * Five stacks (leaf first), cpu values 10..50:
 *   inl (inlined in work) < work < main        10  pid 1
 *   memcpy (libc) < work < main                20  pid 2
 *   kfunc (kernel) < main                      30  pid 1
 *   work (another address, same line) < main   40  pid 2
 *   work < work < main (recursion)             50  pid 1
 */
static struct profile *known_profile(void)
{
	struct profile *p = profile__new();
	struct pf_line_desc inl[2] = { { .function = "inl", .filename = "inl.h", .line = 3 },
				       { .function = "work", .filename = "app.c", .line = 20 } };
	uint64_t main_fn, work, work2, work_rec, inl_loc, memcpy_loc, kfunc;

	assert_non_null(p);
	assert_int_equal(profile__add_sample_type(p, "samples", "count"), 0);
	assert_int_equal(profile__add_sample_type(p, "cpu", "nanoseconds"), 0);
	main_fn = loc(p, APP, 0x300010, "main", 5);
	work = loc(p, APP, 0x300020, "work", 20);
	work2 = loc(p, APP, 0x300024, "work", 20);
	work_rec = loc(p, APP, 0x300028, "work", 21);
	inl_loc = profile__add_location(p, mapping(p, APP), 0x300030, inl, 2);
	memcpy_loc = loc(p, LIBC, 0x200010, "memcpy", 0);
	kfunc = loc(p, KERNEL, 0x100010, "kfunc", 0);
	sample(p, (uint64_t[]){ inl_loc, main_fn }, 2, 1, 10, "1", false);
	sample(p, (uint64_t[]){ memcpy_loc, work, main_fn }, 3, 2, 20, "2", false);
	sample(p, (uint64_t[]){ kfunc, main_fn }, 2, 3, 30, "1", false);
	sample(p, (uint64_t[]){ work2, main_fn }, 2, 4, 40, "2", false);
	sample(p, (uint64_t[]){ work, work_rec, main_fn }, 3, 5, 50, "1", false);
	return p;
}

/* The base of the diff: its sample types the other way round; work < main, cpu 100. */
static struct profile *base_profile(void)
{
	struct profile *p = profile__new();
	uint64_t main_fn, work;

	assert_non_null(p);
	assert_int_equal(profile__add_sample_type(p, "cpu", "nanoseconds"), 0);
	assert_int_equal(profile__add_sample_type(p, "samples", "count"), 0);
	main_fn = loc(p, APP, 0x300010, "main", 5);
	work = loc(p, APP, 0x300020, "work", 20);
	sample(p, (uint64_t[]){ work, main_fn }, 2, 10, 100, "7", true);
	return p;
}

static char *data_of(const struct profile *p, const struct profile *base, int *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*err = flame_write_data(f, p, base);
	fclose(f);
	return buf;
}

static const char *str_at(json_object *root, json_object *idx)
{
	json_object *strings = json_object_object_get(root, "strings");

	return json_object_get_string(json_object_array_get_idx(strings, json_object_get_int(idx)));
}

/* The function table: names in order, each (name, file, kind) once. */
static int func_index(json_object *root, const char *name, int *kind)
{
	json_object *funcs = json_object_object_get(root, "funcs");
	size_t i, n = json_object_array_length(funcs);
	int found = -1;

	for (i = 0; i < n; i += 3)
		if (!strcmp(str_at(root, json_object_array_get_idx(funcs, i)), name)) {
			assert_int_equal(found, -1); /* merged: once only */
			found = (int)(i / 3);
			*kind = json_object_get_int(json_object_array_get_idx(funcs, i + 2));
		}
	return found;
}

static void test_tables(void **state)
{
	struct profile *p = known_profile();
	json_object *root, *prof, *samples, *types, *locs, *stacks;
	size_t i;
	char *data;
	int err, kind = -1;

	data = data_of(p, NULL, &err);
	assert_int_equal(err, 0);
	root = json_tokener_parse(data);
	assert_non_null(root);
	assert_true(func_index(root, "work", &kind) >= 0);
	assert_int_equal(kind, FLAME_PROGRAM);
	assert_true(func_index(root, "memcpy", &kind) >= 0);
	assert_int_equal(kind, FLAME_RUNTIME);
	assert_true(func_index(root, "kfunc", &kind) >= 0);
	assert_int_equal(kind, FLAME_KERNEL);
	assert_true(func_index(root, "inl", &kind) >= 0);
	/* Seven locations, but work at 0x300020 and 0x300024 (same line) are one. */
	locs = json_object_object_get(root, "locs");
	assert_int_equal(json_object_array_length(locs), 6);
	prof = json_object_array_get_idx(json_object_object_get(root, "profiles"), 0);
	types = json_object_object_get(prof, "types");
	assert_int_equal(json_object_array_length(types), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
				    json_object_array_get_idx(types, 1), 0)),
			    "cpu");
	/* Per sample: its stack, 2 values, the number of labels, 2 labels. */
	samples = json_object_object_get(prof, "samples");
	assert_int_equal(json_object_array_length(samples), (1 + 2 + 1 + 2) * 5);
	/* The first sample: stack 2 (main, then inl in work), values 1 and 10. */
	assert_int_equal(json_object_get_int(json_object_array_get_idx(samples, 0)), 2);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(samples, 1)), 1);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(samples, 2)), 10);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(samples, 3)), 2);
	/*
	 * Stacks share their callers, each (caller, location) once: main;
	 * main>inl-in-work; main>work(20); main>work(20)>memcpy; main>kfunc;
	 * main>work(21); main>work(21)>work(20).  The 40 stack, work at
	 * another address on the same line, is main>work(20) again.
	 */
	stacks = json_object_object_get(root, "stacks");
	assert_int_equal(json_object_array_length(stacks), 2 * 7);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(stacks, 0)), 0);
	for (i = 2; i < 14; i += 2)
		assert_true(json_object_get_int(json_object_array_get_idx(stacks, i)) >= 1);
	/* The default sample type is the last. */
	assert_int_equal(json_object_get_int(json_object_object_get(root, "default")), 1);
	json_object_put(root);
	free(data);
	profile__free(p);
}

static void test_diff_types(void **state)
{
	struct profile *p = known_profile(), *base = base_profile(), *bad = profile__new();
	json_object *root, *samples;
	char *data;
	int err;

	data = data_of(p, base, &err);
	assert_int_equal(err, 0);
	root = json_tokener_parse(data);
	assert_non_null(root);
	samples = json_object_object_get(
		json_object_array_get_idx(json_object_object_get(root, "profiles"), 1), "samples");
	/* base's values in p's order: samples 10, then cpu 100; main>work is p's stack 3. */
	assert_int_equal(json_object_get_int(json_object_array_get_idx(samples, 0)), 3);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(samples, 1)), 10);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(samples, 2)), 100);
	json_object_put(root);
	free(data);

	/* A base without p's sample types cannot be compared. */
	assert_int_equal(profile__add_sample_type(bad, "alloc_space", "bytes"), 0);
	free(data_of(p, bad, &err));
	assert_int_equal(err, -EINVAL);
	profile__free(bad);
	profile__free(base);
	profile__free(p);
}

/* Names that would end the <script> element, or are not UTF-8, stay inside it. */
static void test_escaping(void **state)
{
	struct profile *p = profile__new();
	uint64_t l[2];
	char *buf = NULL, *data;
	size_t len = 0;
	json_object *root;
	FILE *f;
	int err;

	assert_non_null(p);
	assert_int_equal(profile__add_sample_type(p, "samples", "count"), 0);
	l[0] = loc(p, APP, 0x300010, "</script><script>alert(1)</script>", 1);
	l[1] = loc(p, APP, 0x300020, "bad\xff\xc3utf8 \"q\" \\ <!--", 2);
	sample(p, l, 2, 1, 1, "1", false);

	data = data_of(p, NULL, &err);
	assert_int_equal(err, 0);
	assert_null(strchr(data, '<'));
	assert_null(strchr(data, '>'));
	root = json_tokener_parse(data);
	assert_non_null(root);
	/* Functions in the order stacks meet them, from the root. */
	assert_string_equal(
		str_at(root, json_object_array_get_idx(json_object_object_get(root, "funcs"), 3)),
		"</script><script>alert(1)</script>");
	assert_string_equal(
		str_at(root, json_object_array_get_idx(json_object_object_get(root, "funcs"), 0)),
		"bad\xef\xbf\xbd\xef\xbf\xbdutf8 \"q\" \\ <!--");
	json_object_put(root);
	free(data);

	/* The page: one data block, the title escaped, every marker replaced. */
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(flame_write_html(f, p, NULL, "t<i>tle & \"x\""), 0);
	fclose(f);
	assert_non_null(strstr(buf, "<title>t&lt;i&gt;tle &amp; &quot;x&quot;</title>"));
	assert_null(strstr(buf, "{{"));
	assert_non_null(strstr(buf, "<canvas"));
	/* Only the page's own script elements close: data, code. */
	{
		size_t n = 0;
		const char *s = buf;

		while ((s = strstr(s, "</script>")))
			n++, s++;
		assert_int_equal(n, 2);
	}
	free(buf);
	profile__free(p);
}

/* A profile without sample types is refused, not drawn empty. */
static void test_no_types(void **state)
{
	struct profile *p = profile__new();
	int err;

	free(data_of(p, NULL, &err));
	assert_int_equal(err, -EINVAL);
	profile__free(p);
}

/* The page's tree code on this data, under node (tests/unit/flame_test.js). */
static void test_tree_js(void **state)
{
	struct profile *p = known_profile(), *base = base_profile();
	char path[] = "/tmp/bpfprof-flame-XXXXXX", cmd[256];
	FILE *f;
	int fd, rc;

	if (system("node --version >/dev/null 2>&1")) {
		profile__free(base);
		profile__free(p);
		skip(); /* no node here */
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(flame_write_data(f, p, base), 0);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "node tests/unit/flame_test.js %s", path);
	rc = system(cmd);
	unlink(path);
	profile__free(base);
	profile__free(p);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),	 cmocka_unit_test(test_diff_types),
		cmocka_unit_test(test_escaping), cmocka_unit_test(test_no_types),
		cmocka_unit_test(test_tree_js),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
