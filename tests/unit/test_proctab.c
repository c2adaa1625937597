// SPDX-License-Identifier: Apache-2.0
/*
 * The process and file tables (proc/procs.c, proc/files.c) against a
 * procfs made in a temp dir: maps written by hand, map_files as symlinks
 * to real files, root as a symlink to /.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc/procs.h"
#include "util/util.h"

struct fx {
	char dir[64];	    /* the fake procfs */
	char elf[PATH_MAX]; /* this test's binary, copied: it has a build id */
	char elf2[PATH_MAX];
	char text[PATH_MAX]; /* not ELF: identity by stat */
	char text2[PATH_MAX];
};

static void copy(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	close(in);
	close(out);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_proctab.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->elf, sizeof(fx->elf), "%s/a.elf", fx->dir);
	snprintf(fx->elf2, sizeof(fx->elf2), "%s/b.elf", fx->dir);
	snprintf(fx->text, sizeof(fx->text), "%s/a.txt", fx->dir);
	snprintf(fx->text2, sizeof(fx->text2), "%s/b.txt", fx->dir);
	copy("/proc/self/exe", fx->elf);
	copy("/proc/self/exe", fx->elf2);
	write_file(fx->text, "not an ELF file\n");
	write_file(fx->text2, "not an ELF file\n");
	*state = fx;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Process pid maps lines; each "MAP start end target" line also gets a map_files link. */
static void make_proc(struct fx *fx, int pid, const char *maps)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%d", fx->dir, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/map_files", fx->dir, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/root", fx->dir, pid);
	if (symlink("/", path))
		assert_int_equal(errno, EEXIST);
	snprintf(path, sizeof(path), "%s/%d/maps", fx->dir, pid);
	write_file(path, maps);
}

static void map_file(struct fx *fx, int pid, const char *range, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%d/map_files/%s", fx->dir, pid, range);
	unlink(path);
	assert_int_equal(symlink(target, path), 0);
}

static void gone(struct fx *fx, int pid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%d/maps", fx->dir, pid);
	assert_int_equal(unlink(path), 0);
}

static char *line(char *buf, size_t len, const char *range, const char *perms, const char *path)
{
	assert_true(strlen(path) + 64 < len);
	snprintf(buf, len, "%s %s 00000000 08:01 1234 %s\n", range, perms, path);
	return buf;
}

static const struct pmap *at(struct proctab *t, int pid, uint64_t addr)
{
	return pproc__find(proctab__find(t, pid), addr);
}

static void test_identity(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	char maps[1024], a[256], b[256], c[256];
	const struct pmap *m1, *m2;

	assert_non_null(t);
	/* Two processes map the same ELF; a third maps a copy of it (same build id). */
	snprintf(maps, sizeof(maps), "%s%s", line(a, sizeof(a), "1000-2000", "r-xp", "/usr/bin/a"),
		 line(b, sizeof(b), "3000-4000", "r-xp", "/usr/share/a.txt"));
	make_proc(fx, 10, maps);
	map_file(fx, 10, "1000-2000", fx->elf);
	map_file(fx, 10, "3000-4000", fx->text);
	make_proc(fx, 11, maps);
	map_file(fx, 11, "1000-2000", fx->elf);
	map_file(fx, 11, "3000-4000", fx->text2);
	make_proc(fx, 12, line(c, sizeof(c), "1000-2000", "r-xp", "/usr/bin/a"));
	map_file(fx, 12, "1000-2000", fx->elf2);
	assert_int_equal(proctab__refresh(t, 10), 0);
	assert_int_equal(proctab__refresh(t, 11), 0);
	assert_int_equal(proctab__refresh(t, 12), 0);

	m1 = at(t, 10, 0x1800);
	m2 = at(t, 11, 0x1000);
	assert_non_null(m1);
	assert_non_null(m2);
	assert_non_null(m1->file);
	assert_ptr_equal(m1->file, m2->file);
	assert_string_equal(m1->path, "/usr/bin/a");
	assert_int_equal(strlen(m1->file->build_id), 40);
	/* A copy: another inode, the same build id, the same entry. */
	assert_ptr_equal(at(t, 12, 0x1000)->file, m1->file);
	assert_int_equal(m1->file->refs, 3);
	/* Without a build id, two equal texts in two inodes are two files. */
	assert_non_null(at(t, 10, 0x3000)->file);
	assert_non_null(at(t, 11, 0x3000)->file);
	assert_ptr_not_equal(at(t, 10, 0x3000)->file, at(t, 11, 0x3000)->file);
	assert_string_equal(at(t, 10, 0x3000)->file->build_id, "");
	assert_int_equal(filetab__count(proctab__files(t)), 3);
	/* The file is open: it reads as the ELF it is. */
	{
		char magic[4];
		int fd = pfile__open(m1->file);

		assert_true(fd >= 0);
		assert_int_equal(read(fd, magic, 4), 4);
		assert_memory_equal(magic, "\177ELF", 4);
		close(fd);
	}
	/* Nothing mapped there, or a pid never seen. */
	assert_null(at(t, 10, 0x2000));
	assert_null(at(t, 99, 0x1000));
	proctab__free(t);
}

static void test_root_fallback_and_deleted(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	char maps[3 * PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[256];

	assert_non_null(t);
	/* No map_files links: the path under root (a symlink to /) is opened. */
	snprintf(maps, sizeof(maps), "%s%s%s", line(a, sizeof(a), "1000-2000", "r-xp", fx->elf),
		 line(b, sizeof(b), "3000-4000", "r-xp", fx->elf2),
		 line(c, sizeof(c), "5000-6000", "r-xp", ""));
	/* The second one was deleted: its path may name another file now. */
	strcpy(strstr(maps, fx->elf2) + strlen(fx->elf2), " (deleted)\n");
	strcat(maps, c);
	make_proc(fx, 20, maps);
	assert_int_equal(proctab__refresh(t, 20), 0);
	assert_non_null(at(t, 20, 0x1000)->file);
	assert_non_null(at(t, 20, 0x3000));
	assert_null(at(t, 20, 0x3000)->file);
	/* Anonymous code: recorded, no file. */
	assert_non_null(at(t, 20, 0x5000));
	assert_null(at(t, 20, 0x5000)->file);
	proctab__free(t);
}

static void test_refresh_and_exec(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	char maps[1024], a[256], b[256], c[256];
	const struct pfile *f;

	assert_non_null(t);
	snprintf(maps, sizeof(maps), "%s%s%s", line(a, sizeof(a), "1000-2000", "r-xp", "/a"),
		 line(b, sizeof(b), "3000-4000", "r-xp", "/b"),
		 line(c, sizeof(c), "8000-9000", "rw-p", "/a"));
	make_proc(fx, 30, maps);
	map_file(fx, 30, "1000-2000", fx->elf);
	map_file(fx, 30, "3000-4000", fx->text);
	assert_int_equal(proctab__refresh(t, 30), 0);
	/* Only code is recorded. */
	assert_int_equal(proctab__find(t, 30)->n, 2);
	assert_null(at(t, 30, 0x8000));
	f = at(t, 30, 0x1000)->file;

	/* dlclose and dlopen: /b is gone, /c overlaps nothing old, /a is unchanged. */
	snprintf(maps, sizeof(maps), "%s%s", line(a, sizeof(a), "1000-2000", "r-xp", "/a"),
		 line(b, sizeof(b), "5000-6000", "r-xp", "/c"));
	make_proc(fx, 30, maps);
	map_file(fx, 30, "5000-6000", fx->text2);
	assert_int_equal(proctab__refresh(t, 30), 0);
	assert_int_equal(proctab__find(t, 30)->n, 3);
	assert_ptr_equal(at(t, 30, 0x1000)->file, f);
	assert_true(at(t, 30, 0x1000)->live);
	/* Unmapped, still recorded for late samples, not live. */
	assert_string_equal(at(t, 30, 0x3000)->path, "/b");
	assert_false(at(t, 30, 0x3000)->live);
	assert_true(at(t, 30, 0x5000)->live);
	assert_int_equal(f->refs, 1);

	/* A new mapping over the old one wins, and the old file loses its reference. */
	snprintf(maps, sizeof(maps), "%s", line(a, sizeof(a), "3000-4000", "r-xp", "/d"));
	make_proc(fx, 30, maps);
	map_file(fx, 30, "3000-4000", fx->elf);
	assert_int_equal(proctab__refresh(t, 30), 0);
	assert_string_equal(at(t, 30, 0x3000)->path, "/d");
	assert_ptr_equal(at(t, 30, 0x3000)->file, f);
	assert_int_equal(f->refs, 2);

	/* exec: the old image is forgotten. */
	snprintf(maps, sizeof(maps), "%s", line(a, sizeof(a), "a000-b000", "r-xp", "/e"));
	make_proc(fx, 30, maps);
	map_file(fx, 30, "a000-b000", fx->text);
	assert_int_equal(proctab__exec(t, 30), 0);
	assert_int_equal(proctab__find(t, 30)->n, 1);
	assert_null(at(t, 30, 0x1000));
	assert_non_null(at(t, 30, 0xa000));
	assert_int_equal(f->refs, 0);
	proctab__free(t);
}

static void test_exit(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	char a[256];

	assert_non_null(t);
	make_proc(fx, 40, line(a, sizeof(a), "1000-2000", "r-xp", "/a"));
	map_file(fx, 40, "1000-2000", fx->elf);
	assert_int_equal(proctab__refresh(t, 40), 0);
	assert_false(proctab__find(t, 40)->exited);
	gone(fx, 40);
	/* Gone: marked exited, its mappings kept for symbolization. */
	assert_int_equal(proctab__refresh(t, 40), -ESRCH);
	assert_true(proctab__find(t, 40)->exited);
	assert_non_null(at(t, 40, 0x1000)->file);
	/* Never seen: nothing recorded. */
	assert_int_equal(proctab__refresh(t, 41), -ESRCH);
	assert_null(proctab__find(t, 41));
	proctab__forget(t, 40);
	assert_null(proctab__find(t, 40));
	assert_int_equal(proctab__count(t), 0);
	proctab__free(t);
}

static int released;

static void on_release(void *ctx, struct pfile *f)
{
	released++;
	assert_ptr_equal(f->priv[PFILE_SYMBOLIZER], ctx);
}

static void test_eviction(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	struct filetab *files;
	char a[256];
	size_t before, after;
	int pid;

	assert_non_null(t);
	files = proctab__files(t);
	filetab__on_release(files, PFILE_SYMBOLIZER, on_release, &released);
	/* 50 exits, each its own file (no build id), and one process alive. */
	for (pid = 100; pid < 150; pid++) {
		make_proc(fx, pid, line(a, sizeof(a), "1000-2000", "r-xp", "/x"));
		map_file(fx, pid, "1000-2000", pid == 100 ? fx->text : fx->text2);
		assert_int_equal(proctab__refresh(t, pid), 0);
		at(t, pid, 0x1000)->file->priv[PFILE_SYMBOLIZER] = &released;
	}
	for (pid = 101; pid < 150; pid++)
		proctab__exit(t, pid);
	assert_int_equal(proctab__count(t), 50);
	assert_int_equal(filetab__count(files), 2);
	before = proctab__bytes(t);

	/* A limit above what is held: nothing goes. */
	released = 0;
	assert_int_equal(proctab__evict(t, before), before);
	assert_int_equal(proctab__count(t), 50);
	assert_int_equal(released, 0);

	/* Just below: only the longest gone goes. */
	proctab__evict(t, before - 1);
	assert_int_equal(proctab__count(t), 49);
	assert_null(proctab__find(t, 101));
	assert_non_null(proctab__find(t, 102));
	assert_int_equal(released, 0);

	/* Nothing allowed: every exited process and the file only they mapped go. */
	after = proctab__evict(t, 0);
	assert_true(after < before);
	assert_int_equal(proctab__count(t), 1);
	assert_non_null(at(t, 100, 0x1000));
	assert_int_equal(filetab__count(files), 1);
	assert_int_equal(released, 1);
	/* The table works on: lookups, a new process, the live one refreshed. */
	assert_int_equal(proctab__refresh(t, 100), 0);
	make_proc(fx, 150, line(a, sizeof(a), "1000-2000", "r-xp", "/x"));
	map_file(fx, 150, "1000-2000", fx->text2);
	assert_int_equal(proctab__refresh(t, 150), 0);
	assert_non_null(at(t, 150, 0x1000)->file);
	assert_int_equal(filetab__count(files), 2);
	proctab__free(t);
	/* Freeing the table releases what users still hold. */
	assert_int_equal(released, 2);
}

/* The agent's rule: processes gone before a time go, with the files only they mapped. */
/*
 * A file already open is found by the device and inode its maps line
 * names, without a path through procfs; rewritten in place, it is not.
 */
static void test_maps_inode(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	char maps[2 * PATH_MAX];
	const struct pmap *m;
	struct pfile *f;
	struct stat st;
	FILE *out;

	assert_non_null(t);
	assert_int_equal(stat(fx->text, &st), 0);
	snprintf(maps, sizeof(maps), "1000-2000 r-xp 00000000 %02x:%02x %lu %s\n", major(st.st_dev),
		 minor(st.st_dev), (unsigned long)st.st_ino, "/usr/share/a.txt");
	make_proc(fx, 20, maps);
	map_file(fx, 20, "1000-2000", fx->text);
	assert_int_equal(proctab__refresh(t, 20), 0);
	m = at(t, 20, 0x1000);
	assert_non_null(m);
	assert_non_null(m->file);
	f = m->file;
	/* No link, no such path under its root: only the inode can find it. */
	make_proc(fx, 21, maps);
	assert_int_equal(proctab__refresh(t, 21), 0);
	assert_ptr_equal(at(t, 21, 0x1000)->file, f);
	/* Rewritten where it is: the same inode, another file. */
	out = fopen(fx->text, "a");
	assert_non_null(out);
	fputs("more\n", out);
	fclose(out);
	make_proc(fx, 22, maps);
	assert_int_equal(proctab__refresh(t, 22), 0);
	m = at(t, 22, 0x1000);
	assert_true(!m || !m->file);
	proctab__free(t);
}

static void test_evict_gone(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	struct filetab *files;
	char a[256];
	int64_t mid;
	int pid;

	assert_non_null(t);
	files = proctab__files(t);
	for (pid = 200; pid < 204; pid++) {
		make_proc(fx, pid, line(a, sizeof(a), "1000-2000", "r-xp", "/x"));
		map_file(fx, pid, "1000-2000", pid == 200 ? fx->text : fx->text2);
		assert_int_equal(proctab__refresh(t, pid), 0);
	}
	proctab__exit(t, 201);
	proctab__exit(t, 202);
	mid = mono_ns();
	while (mono_ns() == mid)
		;
	proctab__exit(t, 203);
	assert_int_equal(proctab__evict_gone(t, mid + 1), 2);
	assert_null(proctab__find(t, 201));
	assert_null(proctab__find(t, 202));
	assert_non_null(proctab__find(t, 203)); /* gone later */
	assert_non_null(proctab__find(t, 200)); /* alive */
	assert_int_equal(filetab__count(files), 2);
	assert_int_equal(proctab__evict_gone(t, mono_ns() + 1), 1);
	assert_int_equal(proctab__count(t), 1);
	assert_int_equal(filetab__count(files), 1); /* text2 was theirs alone */
	proctab__free(t);
}

static void test_vdso_once(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	char a[256], magic[4];
	int pid, fd;

	assert_non_null(t);
	for (pid = 60; pid < 63; pid++) {
		make_proc(fx, pid, line(a, sizeof(a), "7fff0000-7fff2000", "r-xp", "[vdso]"));
		assert_int_equal(proctab__refresh(t, pid), 0);
	}
	assert_non_null(at(t, 60, 0x7fff0000)->file);
	assert_true(at(t, 60, 0x7fff0000)->file->vdso);
	assert_ptr_equal(at(t, 61, 0x7fff0000)->file, at(t, 60, 0x7fff0000)->file);
	assert_ptr_equal(at(t, 62, 0x7fff0000)->file, at(t, 60, 0x7fff0000)->file);
	assert_ptr_equal(filetab__vdso(proctab__files(t)), at(t, 60, 0x7fff0000)->file);
	assert_int_equal(filetab__vdso_copies(proctab__files(t)), 1);
	fd = pfile__open(at(t, 60, 0x7fff0000)->file);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, magic, 4), 4);
	assert_memory_equal(magic, "\177ELF", 4);
	close(fd);
	proctab__free(t);
}

/* A record made before its maps are read keeps what its tracker set; a walk sees every live record. */
static void test_get_and_walk(void **state)
{
	struct fx *fx = *state;
	struct proctab *t = proctab__new(fx->dir);
	struct pproc *p;
	char a[256];
	size_t i, seen = 0;

	assert_non_null(t);
	p = proctab__get(t, 50);
	assert_non_null(p);
	assert_int_equal(p->n, 0);
	assert_ptr_equal(proctab__get(t, 50), p); /* one record per pid */
	snprintf(p->name, sizeof(p->name), "app");
	p->first_at = p->read_at = 7;
	make_proc(fx, 50, line(a, sizeof(a), "1000-2000", "r-xp", "/a"));
	map_file(fx, 50, "1000-2000", fx->elf);
	assert_int_equal(proctab__refresh(t, 50), 0);
	p = proctab__get(t, 50);
	assert_string_equal(p->name, "app");
	assert_int_equal(p->first_at, 7);
	assert_non_null(at(t, 50, 0x1000));
	assert_non_null(proctab__get(t, 51));
	assert_non_null(proctab__get(t, 52));
	proctab__forget(t, 51);
	for (i = 0; i < proctab__slots(t); i++)
		if (proctab__slot(t, i)) {
			assert_true(proctab__slot(t, i)->pid != 51);
			seen++;
		}
	assert_int_equal(seen, 2);
	assert_null(proctab__slot(t, proctab__slots(t)));
	proctab__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_root_fallback_and_deleted),
		cmocka_unit_test(test_refresh_and_exec),
		cmocka_unit_test(test_exit),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_evict_gone),
		cmocka_unit_test(test_maps_inode),
		cmocka_unit_test(test_vdso_once),
		cmocka_unit_test(test_get_and_walk),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
