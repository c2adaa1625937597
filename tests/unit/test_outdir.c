// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/outdir.h"
#include "util/util.h"

#define NS 1000000000LL
/* 2026-12-03T12:15:00Z */
#define T0 1796300100LL

struct fx {
	char dir[64];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	strcpy(fx->dir, "/tmp/test_outdir.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	umount2(fx->dir, MNT_DETACH); /* after a failed test_full_disk */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd))
		return -1;
	free(fx);
	return 0;
}

static bool exists(const char *dir, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

static void put(const char *dir, const char *rel, size_t size)
{
	char p[PATH_MAX], *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	slash = strrchr(p, '/');
	*slash = '\0';
	mkdir(p, 0755);
	*slash = '/';
	f = fopen(p, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fclose(f);
}

/* Entries of dir/sub but "." and "..". */
static int count(const char *dir, const char *sub)
{
	char p[PATH_MAX];
	struct dirent *d;
	DIR *dd;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	dd = opendir(p);
	if (!dd)
		return -1;
	while ((d = readdir(dd)))
		n += strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
	closedir(dd);
	return n;
}

static void test_component(void **state)
{
	char out[128], small[4];

	outdir_component("nginx", out, sizeof(out));
	assert_string_equal(out, "nginx");
	outdir_component("a/b c\tdé", out, sizeof(out));
	assert_string_equal(out, "a_b_c_d__");
	outdir_component(".hidden", out, sizeof(out));
	assert_string_equal(out, "_hidden");
	outdir_component("..", out, sizeof(out));
	assert_string_equal(out, "_.");
	outdir_component("", out, sizeof(out));
	assert_string_equal(out, "_");
	outdir_component(NULL, out, sizeof(out));
	assert_string_equal(out, "_");
	outdir_component("abcdef", small, sizeof(small));
	assert_string_equal(small, "abc");
	memset(out, 0, sizeof(out));
	outdir_component("0123456789012345678901234567890123456789012345678901234567890123456789"
			 "0123456789012345678901234567890123456789",
			 out, sizeof(out));
	assert_int_equal(strlen(out), 100);
}

static void test_write_and_name(void **state)
{
	struct fx *fx = *state;
	struct outdir_stats st;
	struct outdir *o;
	char p[PATH_MAX], buf[16] = {};
	FILE *f;

	o = outdir__open(fx->dir, 0, 0);
	assert_non_null(o);
	assert_int_equal(outdir__write(o, "web/api", "cpu", T0 * NS + 123, "hello", 5), 0);
	snprintf(p, sizeof(p), "%s/web_api/cpu-20261203T121500Z.pb.gz", fx->dir);
	f = fopen(p, "r");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof(buf), f), 5);
	fclose(f);
	assert_string_equal(buf, "hello");
	/* Nothing else: the temporary name is gone. */
	assert_int_equal(count(fx->dir, "web_api"), 1);

	/* The same interval again replaces the file, and the index keeps one entry. */
	assert_int_equal(outdir__write(o, "web/api", "cpu", T0 * NS, "hello, world", 12), 0);
	assert_int_equal(count(fx->dir, "web_api"), 1);
	outdir__stats(o, &st);
	assert_int_equal(st.files_written, 2);
	assert_int_equal(st.bytes_written, 17);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, 12);
	assert_int_equal(st.write_errors, 0);

	assert_int_equal(outdir__write(o, "web", "cpu/x", T0 * NS, "x", 1), -EINVAL);
	assert_int_equal(outdir__write(o, "web", "", T0 * NS, "x", 1), -EINVAL);
	assert_int_equal(outdir__write(o, "web", "cpu", -1, "x", 1), -EINVAL);
	outdir__close(o);
}

static void test_prune_age(void **state)
{
	struct fx *fx = *state;
	int64_t now = wall_ns() / NS;
	struct outdir_stats st;
	struct outdir *o;

	o = outdir__open(fx->dir, 0, 60);
	assert_non_null(o);
	assert_int_equal(outdir__write(o, "a", "cpu", (now - 30) * NS, "1", 1), 0);
	assert_int_equal(outdir__write(o, "b", "cpu", (now - 10) * NS, "2", 1), 0);
	/* Older than max_age when written: removed at once. */
	assert_int_equal(outdir__write(o, "c", "cpu", (now - 100) * NS, "3", 1), 0);
	outdir__stats(o, &st);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.removed_by_age, 1);
	assert_int_equal(count(fx->dir, "c"), -1); /* its directory went too */

	outdir__prune(o, (now + 40) * NS);
	assert_int_equal(count(fx->dir, "a"), -1);
	assert_int_equal(count(fx->dir, "b"), 1);
	outdir__prune(o, (now + 60) * NS);
	assert_int_equal(count(fx->dir, "b"), -1);
	outdir__stats(o, &st);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.removed_by_age, 3);
	assert_int_equal(st.removed_by_size, 0);
	outdir__close(o);
}

static void test_prune_size_oldest_first(void **state)
{
	struct fx *fx = *state;
	char data[100] = {};
	struct outdir_stats st;
	struct outdir *o;

	o = outdir__open(fx->dir, 250, 0);
	assert_non_null(o);
	/* Written out of order: the oldest by start goes, not the first written. */
	assert_int_equal(outdir__write(o, "s", "cpu", (T0 + 20) * NS, data, 100), 0);
	assert_int_equal(outdir__write(o, "s", "cpu", (T0 + 0) * NS, data, 100), 0);
	assert_int_equal(outdir__write(o, "s", "mutex", (T0 + 10) * NS, data, 100), 0);
	assert_false(exists(fx->dir, "s/cpu-20261203T121500Z.pb.gz"));
	assert_true(exists(fx->dir, "s/mutex-20261203T121510Z.pb.gz"));
	assert_true(exists(fx->dir, "s/cpu-20261203T121520Z.pb.gz"));
	/* Exactly at the limit is within it. */
	assert_int_equal(outdir__write(o, "t", "cpu", (T0 + 30) * NS, data, 50), 0);
	assert_true(exists(fx->dir, "s/mutex-20261203T121510Z.pb.gz"));
	assert_int_equal(outdir__write(o, "u", "cpu", (T0 + 40) * NS, data, 10), 0);
	assert_false(exists(fx->dir, "s/mutex-20261203T121510Z.pb.gz"));
	outdir__stats(o, &st);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.bytes, 160);
	assert_int_equal(st.removed_by_size, 2);
	assert_int_equal(st.removed_by_age, 0);
	outdir__close(o);
}

static void test_rescan_and_foreign(void **state)
{
	struct fx *fx = *state;
	struct outdir_stats st;
	struct outdir *o;

	/* A predecessor's files, its crash's temporary file, and files not ours. */
	put(fx->dir, "api/cpu-20261203T121500Z.pb.gz", 100);
	put(fx->dir, "api/cpu-20261203T121515Z.pb.gz", 100);
	put(fx->dir, "db/offcpu-20261203T121510Z.pb.gz", 100);
	put(fx->dir, "api/.cpu-20261203T121530Z.pb.gz.tmp77-0", 100);
	put(fx->dir, "api/notes.txt", 1000);
	put(fx->dir, "api/cpu-20261399T121500Z.pb.gz", 1000);
	put(fx->dir, "api/cpu-20261203T121500Z.pb.gz.bak", 1000);
	put(fx->dir, "api/cpu-latest.pb.gz", 1000);
	put(fx->dir, "db/keep.pb.gz", 1000);
	put(fx->dir, "cpu-20261203T121500Z.pb.gz", 1000); /* not in a service directory */
	put(fx->dir, ".hidden/cpu-20261203T121500Z.pb.gz", 1000);

	o = outdir__open(fx->dir, 150, 0);
	assert_non_null(o);
	outdir__stats(o, &st);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.bytes, 300);
	assert_false(exists(fx->dir, "api/.cpu-20261203T121530Z.pb.gz.tmp77-0"));

	outdir__prune(o, wall_ns());
	outdir__stats(o, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.removed_by_size, 2);
	assert_false(exists(fx->dir, "api/cpu-20261203T121500Z.pb.gz"));
	assert_false(exists(fx->dir, "db/offcpu-20261203T121510Z.pb.gz"));
	assert_true(exists(fx->dir, "api/cpu-20261203T121515Z.pb.gz"));
	/* db keeps a file not ours, so it stays. */
	assert_true(exists(fx->dir, "db/keep.pb.gz"));
	assert_int_equal(count(fx->dir, "api"), 5);
	assert_true(exists(fx->dir, "cpu-20261203T121500Z.pb.gz"));
	assert_true(exists(fx->dir, ".hidden/cpu-20261203T121500Z.pb.gz"));
	outdir__close(o);

	/* A reopen sees what is left. */
	o = outdir__open(fx->dir, 0, 0);
	assert_non_null(o);
	outdir__stats(o, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, 100);
	outdir__close(o);
}

static void test_open_errors(void **state)
{
	struct fx *fx = *state;
	char p[PATH_MAX];

	assert_null(outdir__open("", 0, 0));
	assert_null(outdir__open(fx->dir, 0, -1));
	put(fx->dir, "file", 1);
	snprintf(p, sizeof(p), "%s/file/sub", fx->dir);
	assert_null(outdir__open(p, 0, 0));
	/* mkdir -p */
	snprintf(p, sizeof(p), "%s/a/b/c", fx->dir);
	struct outdir *o = outdir__open(p, 0, 0);
	assert_non_null(o);
	outdir__close(o);
	assert_int_equal(count(fx->dir, "a/b/c"), 0);
}

/* A service directory swapped for a symbolic link is not written through. */
static void test_symlink_refused(void **state)
{
	struct fx *fx = *state;
	char link[PATH_MAX], target[PATH_MAX];
	struct outdir_stats st;
	struct outdir *o;

	o = outdir__open(fx->dir, 0, 0);
	assert_non_null(o);
	snprintf(target, sizeof(target), "%s/.elsewhere", fx->dir);
	assert_int_equal(mkdir(target, 0755), 0);
	snprintf(link, sizeof(link), "%s/evil", fx->dir);
	assert_int_equal(symlink(".elsewhere", link), 0);
	assert_true(outdir__write(o, "evil", "cpu", T0 * NS, "x", 1) < 0);
	assert_int_equal(count(fx->dir, ".elsewhere"), 0);
	outdir__close(o);

	/* Nor is a removal: a directory of ours swapped for a link after the scan. */
	put(fx->dir, "svc/cpu-20200101T000000Z.pb.gz", 10);
	o = outdir__open(fx->dir, 0, 1);
	assert_non_null(o);
	put(fx->dir, ".elsewhere/cpu-20200101T000000Z.pb.gz", 10);
	snprintf(link, sizeof(link), "%s/svc", fx->dir);
	snprintf(target, sizeof(target), "%s/.moved", fx->dir);
	assert_int_equal(rename(link, target), 0);
	assert_int_equal(symlink(".elsewhere", link), 0);
	outdir__prune(o, wall_ns());
	assert_true(exists(fx->dir, ".elsewhere/cpu-20200101T000000Z.pb.gz"));
	assert_true(exists(fx->dir, ".moved/cpu-20200101T000000Z.pb.gz"));
	outdir__stats(o, &st);
	assert_int_equal(st.files, 0); /* forgotten all the same */
	outdir__close(o);
}

static void test_full_disk(void **state)
{
	struct fx *fx = *state;
	static char big[256 * 1024];
	struct outdir_stats st;
	struct outdir *o;

	if (mount("tmpfs", fx->dir, "tmpfs", 0, "size=64k")) {
		print_message("cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		skip();
	}
	o = outdir__open(fx->dir, 0, 0);
	assert_non_null(o);
	assert_int_equal(outdir__write(o, "s", "cpu", T0 * NS, "small", 5), 0);
	assert_int_equal(outdir__write(o, "s", "cpu", (T0 + 15) * NS, big, sizeof(big)), -ENOSPC);
	assert_int_equal(outdir__write(o, "t", "cpu", (T0 + 15) * NS, big, sizeof(big)), -ENOSPC);
	/* Neither the partial file nor its temporary name, nor the new service's directory. */
	assert_int_equal(count(fx->dir, "s"), 1);
	assert_true(exists(fx->dir, "s/cpu-20261203T121500Z.pb.gz"));
	assert_int_equal(count(fx->dir, "t"), -1);
	outdir__stats(o, &st);
	assert_int_equal(st.write_errors, 2);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.files_written, 1);
	/* The agent goes on: space back, writes work again. */
	assert_int_equal(outdir__write(o, "s", "cpu", (T0 + 30) * NS, "again", 5), 0);
	outdir__close(o);
	assert_int_equal(umount(fx->dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_component),
		cmocka_unit_test_setup_teardown(test_write_and_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_size_oldest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rescan_and_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
