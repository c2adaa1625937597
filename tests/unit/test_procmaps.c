// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc/maps.h"

#define PROCFS "tests/fixtures/proc"
#define PID 4242

static const struct vma *find(const struct vma_list *l, uint64_t addr)
{
	return procmaps__find(l, addr);
}

static int parse_string(const char *text, struct vma_list *l)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	assert_non_null(f);
	err = procmaps__parse(f, l);
	fclose(f);
	return err;
}

static void test_read_fixture(void **state)
{
	struct vma_list l = {};
	const struct vma *v;

	assert_int_equal(procmaps__read(PROCFS, PID, &l), 0);
	assert_int_equal(l.n, 27);
	for (size_t i = 1; i < l.n; i++)
		assert_true(l.vmas[i - 1].start < l.vmas[i].start);

	/* A path with a space, and every numeric field. */
	v = find(&l, 0x55d4c3a02000);
	assert_non_null(v);
	assert_string_equal(v->path, "/opt/my app/bin/server");
	assert_int_equal(v->start, 0x55d4c3a02000);
	assert_int_equal(v->end, 0x55d4c3a08000);
	assert_int_equal(v->offset, 0x2000);
	assert_int_equal(v->dev_major, 0xfd);
	assert_int_equal(v->dev_minor, 0x01);
	assert_int_equal(v->inode, 1835013);
	assert_true(v->read && !v->write && v->exec && !v->shared);
	assert_false(v->deleted);
	procmaps__free(&l);
}

static void test_special_paths(void **state)
{
	struct vma_list l = {};
	const struct vma *v;

	assert_int_equal(procmaps__read(PROCFS, PID, &l), 0);

	v = find(&l, 0x7f3a34a01800);
	assert_non_null(v);
	assert_string_equal(v->path, "/tmp/libplugin.so");
	assert_true(v->deleted);
	assert_true(v->exec);
	assert_int_equal(v->dev_major, 8);
	assert_int_equal(v->dev_minor, 0x11);

	v = find(&l, 0x7f3a34f0c000);
	assert_non_null(v);
	assert_string_equal(v->path, "/dev/shm/ring buffer");
	assert_true(v->deleted && v->shared && v->write);

	/* Anonymous: empty path, inode 0. */
	v = find(&l, 0x7f3a30000010);
	assert_non_null(v);
	assert_string_equal(v->path, "");
	assert_int_equal(v->inode, 0);
	assert_true(v->exec && v->write);

	v = find(&l, 0x7f3a2c021000);
	assert_non_null(v);
	assert_false(v->read || v->write || v->exec);

	v = find(&l, 0x7ffd5c3f6abc);
	assert_non_null(v);
	assert_string_equal(v->path, "[vdso]");
	v = find(&l, 0x7ffd5c200fff);
	assert_non_null(v);
	assert_string_equal(v->path, "[stack]");
	v = find(&l, 0xffffffffff600000);
	assert_non_null(v);
	assert_string_equal(v->path, "[vsyscall]");
	assert_true(v->exec && !v->read);
	procmaps__free(&l);
}

static void test_find_bounds(void **state)
{
	struct vma_list l = {};

	assert_int_equal(procmaps__read(PROCFS, PID, &l), 0);
	assert_null(find(&l, 0));
	assert_null(find(&l, 0x55d4c39fffff));
	assert_ptr_equal(find(&l, 0x55d4c3a00000), &l.vmas[0]);
	assert_ptr_equal(find(&l, 0x55d4c3a01fff), &l.vmas[0]);
	/* end is exclusive: the next vma starts there. */
	assert_ptr_equal(find(&l, 0x55d4c3a02000), &l.vmas[1]);
	/* A gap between the binary and the heap. */
	assert_null(find(&l, 0x55d4c3a0b000));
	assert_null(find(&l, 0x7f3a34f09000));
	assert_ptr_equal(find(&l, 0xffffffffff600fff), &l.vmas[l.n - 1]);
	assert_null(find(&l, 0xffffffffff601000));
	assert_null(find(&l, UINT64_MAX));
	procmaps__free(&l);
}

static void test_parse_sorts(void **state)
{
	static const char text[] = "3000-4000 r-xp 00000000 00:00 0 \n"
				   "1000-2000 r--p 00000000 fd:00 12 /a\n"
				   "2000-3000 rw-p 00001000 fd:00 12 /a\n";
	struct vma_list l = {};

	assert_int_equal(parse_string(text, &l), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.vmas[0].start, 0x1000);
	assert_int_equal(l.vmas[1].start, 0x2000);
	assert_int_equal(l.vmas[1].offset, 0x1000);
	assert_int_equal(l.vmas[2].start, 0x3000);
	assert_string_equal(l.vmas[2].path, "");
	assert_ptr_equal(find(&l, 0x2fff), &l.vmas[1]);
	procmaps__free(&l);
}

static void test_parse_edge_lines(void **state)
{
	/* No trailing space or newline; a path ending in spaces; a name that is only the suffix. */
	static const char text[] = "1000-2000 r--p 00000000 00:00 0\n"
				   "2000-3000 r--p 00000000 fd:00 7 /x/trailing  \n"
				   "3000-4000 r--p 00000000 fd:00 8 /x/a (deleted) (deleted)";
	struct vma_list l = {};

	assert_int_equal(parse_string(text, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.vmas[0].path, "");
	assert_string_equal(l.vmas[1].path, "/x/trailing  ");
	assert_string_equal(l.vmas[2].path, "/x/a (deleted)");
	assert_true(l.vmas[2].deleted);
	procmaps__free(&l);
}

static void test_parse_empty(void **state)
{
	struct vma_list l = { .n = 99 };

	assert_int_equal(parse_string("", &l), 0);
	assert_int_equal(l.n, 0);
	assert_null(find(&l, 0x1000));
	procmaps__free(&l);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"",					     /* empty line */
		"1000-2000",				     /* truncated */
		"1000 2000 r-xp 00000000 00:00 0",	     /* no dash */
		"1000-2000 r-xq 00000000 00:00 0",	     /* bad share flag */
		"1000-2000 rwx 00000000 00:00 0",	     /* short perms */
		"2000-1000 r-xp 00000000 00:00 0",	     /* start after end */
		"1000-1000 r-xp 00000000 00:00 0",	     /* empty range */
		"1000-2000 r-xp zz000000 00:00 0",	     /* bad offset */
		"1000-2000 r-xp 00000000 0000 0",	     /* no minor */
		"1000-2000 r-xp 00000000 00:00 x /a",	     /* bad inode */
		"0x1000-2000 r-xp 00000000 00:00 0",	     /* prefix */
		" 1000-2000 r-xp 00000000 00:00 0",	     /* leading space */
		"10000000000000000-2 r-xp 00000000 00:00 0", /* overflow */
		"1000-2000 r-xp 00000000 100000000:00 0 /a", /* major too big */
	};
	char text[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vma_list l = {};

		/* A good line first: the error must not leak it. */
		snprintf(text, sizeof(text), "1000-2000 r-xp 00000000 fd:00 1 /ok\n%s\n", bad[i]);
		if (parse_string(text, &l) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(l.n, 0);
		assert_null(l.vmas);
	}
}

static void test_missing_pid(void **state)
{
	struct vma_list l = {};

	assert_int_equal(procmaps__read(PROCFS, 99999999, &l), -ESRCH);
	assert_int_equal(procmaps__read("tests/fixtures/nonexistent", PID, &l), -ESRCH);
	assert_int_equal(l.n, 0);
}

static void test_read_self(void **state)
{
	struct vma_list l = {};
	const struct vma *v;

	/* The live kernel format, through the same parser. */
	assert_int_equal(procmaps__read("/proc", getpid(), &l), 0);
	v = find(&l, (uint64_t)(uintptr_t)&test_read_self);
	assert_non_null(v);
	assert_true(v->exec);
	assert_non_null(strstr(v->path, "test_procmaps"));
	procmaps__free(&l);
}

/*
 * The executable vmas of a full read; live, [vsyscall] aside (not a vma:
 * PROCMAP_QUERY does not see it, and nothing is ever sampled there).
 */
static void exec_subset(struct vma_list *l, bool live)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++) {
		if (l->vmas[i].exec && (!live || strcmp(l->vmas[i].path, "[vsyscall]")))
			l->vmas[n++] = l->vmas[i];
		else
			free(l->vmas[i].path);
	}
	l->n = n;
}

static void assert_same_vmas(const struct vma_list *a, const struct vma_list *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct vma *x = &a->vmas[i], *y = &b->vmas[i];

		assert_int_equal(x->start, y->start);
		assert_int_equal(x->end, y->end);
		assert_int_equal(x->offset, y->offset);
		assert_int_equal(x->inode, y->inode);
		assert_int_equal(x->dev_major, y->dev_major);
		assert_int_equal(x->dev_minor, y->dev_minor);
		assert_true(x->read == y->read && x->write == y->write && x->exec == y->exec &&
			    x->shared == y->shared && x->deleted == y->deleted);
		assert_string_equal(x->path, y->path);
	}
}

/*
 * The executable vmas alone (PROCMAP_QUERY on this kernel) equal those of
 * the text: a file, a deleted file, a memfd, anonymous code, the vdso.
 */
static void test_read_exec_self(void **state)
{
	char tmpl[] = "/tmp/bpfprof-maps-XXXXXX";
	struct vma_list all = {}, exec = {};
	long page = sysconf(_SC_PAGESIZE);
	void *del, *anon, *mfd;
	int fd, memfd, found = 0;

	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, page), 0);
	del = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	assert_true(del != MAP_FAILED);
	unlink(tmpl);
	close(fd);
	memfd = memfd_create("bpfprof-test", 0);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, page), 0);
	mfd = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, memfd, 0);
	assert_true(mfd != MAP_FAILED);
	close(memfd);
	anon = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);

	assert_int_equal(procmaps__read("/proc", getpid(), &all), 0);
	assert_int_equal(procmaps__read_exec("/proc", getpid(), &exec), 0);
	exec_subset(&all, true);
	assert_same_vmas(&all, &exec);
	for (size_t i = 0; i < exec.n; i++) {
		const struct vma *v = &exec.vmas[i];

		if (v->start == (uintptr_t)del)
			found += v->deleted && !strcmp(v->path, tmpl);
		else if (v->start == (uintptr_t)mfd)
			found += v->shared && strstr(v->path, "bpfprof-test") != NULL;
		else if (v->start == (uintptr_t)anon)
			found += !v->path[0];
		else if (!strcmp(v->path, "[vdso]"))
			found++;
	}
	assert_int_equal(found, 4);
	procmaps__free(&all);
	procmaps__free(&exec);
	munmap(del, page);
	munmap(mfd, page);
	munmap(anon, page);
}

/* A kernel thread (kthreadd, pid 2) has no memory: no mappings, not "gone". */
static void test_read_exec_kthread(void **state)
{
	struct vma_list l = {};

	assert_int_equal(procmaps__read_exec("/proc", 2, &l), 0);
	assert_int_equal(l.n, 0);
	procmaps__free(&l);
}

/* A maps file with no PROCMAP_QUERY (a fixture): the same from its text. */
static void test_read_exec_fixture(void **state)
{
	struct vma_list all = {}, exec = {};

	assert_int_equal(procmaps__read(PROCFS, PID, &all), 0);
	assert_int_equal(procmaps__read_exec(PROCFS, PID, &exec), 0);
	exec_subset(&all, false);
	assert_true(exec.n > 0);
	assert_same_vmas(&all, &exec);
	procmaps__free(&all);
	procmaps__free(&exec);
	assert_int_equal(procmaps__read_exec(PROCFS, 99999999, &exec), -ESRCH);
}

static void test_free_null(void **state)
{
	struct vma_list l = {};

	procmaps__free(NULL);
	procmaps__free(&l);
	procmaps__free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_fixture),	  cmocka_unit_test(test_special_paths),
		cmocka_unit_test(test_find_bounds),	  cmocka_unit_test(test_parse_sorts),
		cmocka_unit_test(test_parse_edge_lines),  cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_malformed),	  cmocka_unit_test(test_missing_pid),
		cmocka_unit_test(test_read_self),	  cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_read_exec_self),	  cmocka_unit_test(test_read_exec_fixture),
		cmocka_unit_test(test_read_exec_kthread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
