// SPDX-License-Identifier: Apache-2.0
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nm.h"
#include "proc/procs.h"
#include "symbolize/elf.h"
#include "symbolize/symbolize.h"
#include "util/util.h"

#define SYMTEST "build/fixtures/symtest"
#define SYMTEST_STRIPPED "build/fixtures/symtest_stripped"
#define SYMTEST_SRC "tests/fixtures/symtest.c"
#define PROCFS "tests/fixtures/proc"

/* The process table the symbolizer reads; one at a time, as a capture has. */
static struct proctab *procs;

static struct symbolizer *sym_new(const char *procfs)
{
	struct symbolizer *s;

	procs = proctab__new(procfs);
	if (!procs)
		return NULL;
	s = symbolizer__new(procs);
	if (!s) {
		proctab__free(procs);
		procs = NULL;
	}
	return s;
}

static void sym_free(struct symbolizer *s)
{
	symbolizer__free(s);
	if (s) {
		proctab__free(procs);
		procs = NULL;
	}
}
#define FIXTURE_PID 4242

/* The fixture binary running as a child, and the addresses it printed. */
struct child {
	pid_t pid;
	uint64_t plain_function; /* entry of plain_function */
	uint64_t plain_call;	 /* return address of a call inside plain_function */
	uint64_t inline_caller;	 /* entry of inline_caller */
	uint64_t inline_call;	 /* return address of a call inside the inlined callee */
	uint64_t deep_call;	 /* the same, inlined twice over */
};

/* The child of the running test, killed by the teardown when an assertion ends the test early. */
static pid_t live_child;

/* The line of SYMTEST_SRC carrying the comment MARK:<name>. */
static int marker_line(const char *name)
{
	char mark[64], line[512];
	FILE *f = fopen(SYMTEST_SRC, "r");
	int lineno = 0, found = 0;

	assert_non_null(f);
	snprintf(mark, sizeof(mark), "/* MARK:%s */", name);
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (strstr(line, mark)) {
			found = lineno;
			break;
		}
	}
	fclose(f);
	if (!found)
		fail_msg("no marker %s in %s", name, SYMTEST_SRC);
	return found;
}

static void spawn(const char *path, struct child *c)
{
	char line[256], name[64];
	int fds[2];
	FILE *out;
	unsigned long long addr;

	memset(c, 0, sizeof(*c));
	assert_int_equal(pipe(fds), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	live_child = c->pid;
	close(fds[1]);
	out = fdopen(fds[0], "r");
	assert_non_null(out);
	while (fgets(line, sizeof(line), out)) {
		if (!strcmp(line, "ready\n"))
			break;
		assert_int_equal(sscanf(line, "%63s %llx", name, &addr), 2);
		if (!strcmp(name, "plain_function"))
			c->plain_function = addr;
		else if (!strcmp(name, "plain_call"))
			c->plain_call = addr;
		else if (!strcmp(name, "inline_caller"))
			c->inline_caller = addr;
		else if (!strcmp(name, "inline_call"))
			c->inline_call = addr;
		else if (!strcmp(name, "deep_call"))
			c->deep_call = addr;
	}
	fclose(out);
	assert_true(c->plain_function && c->plain_call && c->inline_caller && c->inline_call &&
		    c->deep_call);
}

/* Kills and reaps the child; c->pid stays, for symbolizing after the fact. */
static void reap(struct child *c)
{
	int status;

	assert_int_equal(kill(c->pid, SIGKILL), 0);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	live_child = 0;
	assert_int_equal(kill(c->pid, 0), -1);
}

static int kill_live_child(void **state)
{
	if (live_child > 0) {
		kill(live_child, SIGKILL);
		waitpid(live_child, NULL, 0);
		live_child = 0;
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static void assert_frame(const struct sym_frame *f, const char *function, const char *marker,
			 const char *decl_marker)
{
	assert_non_null(f->function);
	assert_string_equal(f->function, function);
	assert_string_equal(f->system_name, function);
	assert_non_null(f->file);
	assert_string_equal(base_name(f->file), "symtest.c");
	assert_int_equal(f->line, marker_line(marker));
	assert_int_equal(f->start_line, marker_line(decl_marker));
}

/* Everything the tests expect of the symtest addresses of c. */
static void check_symtest(struct symbolizer *s, const struct child *c, const char *map_file)
{
	struct sym_loc loc;

	assert_int_equal(symbolizer__user(s, c->pid, c->plain_function, &loc), 0);
	assert_string_equal(loc.map_file, map_file);
	assert_true(loc.map_start <= c->plain_function && c->plain_function < loc.map_end);
	assert_int_equal(strlen(loc.build_id), 40);
	assert_true(loc.has_functions && loc.has_lines && loc.has_inlines);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "plain_function");
	assert_int_equal(loc.frames[0].start_line, marker_line("plain_decl"));

	/* Return addresses point after the call: step back into it, as unwinders do. */
	assert_int_equal(symbolizer__user(s, c->pid, c->plain_call - 1, &loc), 0);
	assert_int_equal(loc.nframes, 1);
	assert_frame(&loc.frames[0], "plain_function", "plain_call", "plain_decl");

	assert_int_equal(symbolizer__user(s, c->pid, c->inline_caller, &loc), 0);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "inline_caller");

	/* Innermost first: the inlined callee, then the function it was inlined into. */
	assert_int_equal(symbolizer__user(s, c->pid, c->inline_call - 1, &loc), 0);
	assert_int_equal(loc.nframes, 2);
	assert_frame(&loc.frames[0], "inlined_callee", "callee_call", "callee_decl");
	assert_frame(&loc.frames[1], "inline_caller", "caller_call", "caller_decl");

	/* A middle frame's line is the call site of the instance nested in it. */
	assert_int_equal(symbolizer__user(s, c->pid, c->deep_call - 1, &loc), 0);
	assert_int_equal(loc.nframes, 3);
	assert_frame(&loc.frames[0], "inlined_callee", "callee_call", "callee_decl");
	assert_frame(&loc.frames[1], "inlined_middle", "middle_call", "middle_decl");
	assert_frame(&loc.frames[2], "deep_caller", "deep_call", "deep_decl");
}

static const char *real_path(const char *path)
{
	static char buf[PATH_MAX];

	assert_non_null(realpath(path, buf));
	return buf;
}

static void test_child_process(void **state)
{
	struct symbolizer *s = sym_new("/proc");
	struct sym_loc first, again;
	struct child c;

	assert_non_null(s);
	spawn(SYMTEST, &c);
	assert_int_equal(proctab__refresh(procs, c.pid), 0);
	check_symtest(s, &c, real_path(SYMTEST));

	/* Repeated lookups give the very same strings. */
	assert_int_equal(symbolizer__user(s, c.pid, c.inline_call - 1, &first), 0);
	assert_int_equal(symbolizer__user(s, c.pid, c.inline_call - 1, &again), 0);
	assert_ptr_equal(first.frames[0].function, again.frames[0].function);
	assert_ptr_equal(first.frames[1].file, again.frames[1].file);

	/* What was tracked outlives the process. */
	reap(&c);
	check_symtest(s, &c, real_path(SYMTEST));
	assert_int_equal(proctab__refresh(procs, c.pid), -ESRCH);
	check_symtest(s, &c, real_path(SYMTEST));
	sym_free(s);
}

/* Code of a file without symbols: "module+0xoffset", the offset in the file. */
static void test_stripped_binary(void **state)
{
	struct symbolizer *s = sym_new("/proc");
	uint64_t start, end;
	struct sym_loc loc;
	struct child c;
	char want[128];

	assert_non_null(s);
	/* The same layout as symtest; its text's file offsets are its addresses. */
	nm_symbol_range(SYMTEST, "plain_function", &start, &end);
	spawn(SYMTEST_STRIPPED, &c);
	assert_int_equal(proctab__refresh(procs, c.pid), 0);
	assert_int_equal(symbolizer__user(s, c.pid, c.plain_function, &loc), 0);
	assert_string_equal(loc.map_file, real_path(SYMTEST_STRIPPED));
	assert_int_equal(loc.nframes, 1);
	snprintf(want, sizeof(want), "symtest_stripped+0x%" PRIx64, start);
	assert_string_equal(loc.frames[0].function, want);
	assert_string_equal(loc.frames[0].system_name, want);
	assert_null(loc.frames[0].file);
	assert_int_equal(loc.frames[0].line, 0);
	/* A return address inside it, one byte back, is the call's own offset. */
	assert_int_equal(symbolizer__user(s, c.pid, c.plain_call - 1, &loc), 0);
	snprintf(want, sizeof(want), "symtest_stripped+0x%" PRIx64,
		 c.plain_call - 1 - c.plain_function + start);
	assert_string_equal(loc.frames[0].function, want);
	reap(&c);
	sym_free(s);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	close(in);
	assert_int_equal(close(out), 0);
}

static void test_deleted_binary(void **state)
{
	char dir[] = "/tmp/test_symbolize.XXXXXX", path[PATH_MAX];
	struct symbolizer *s;
	struct child c;

	/* /proc/PID/map_files, the only way to a deleted file, needs root. */
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/symtest", dir);
	copy_file(SYMTEST, path);
	spawn(path, &c);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);

	s = sym_new("/proc");
	assert_non_null(s);
	assert_int_equal(proctab__refresh(procs, c.pid), 0);
	reap(&c);
	check_symtest(s, &c, path);
	sym_free(s);
}

/*
 * Copies of one binary (another inode, the same build id), as every
 * container of one image maps it: one symbol table for all.
 */
static void test_one_table_per_build_id(void **state)
{
	char dir[] = "/tmp/test_symbolize.XXXXXX", path[3][PATH_MAX];
	struct symcache_stats before, after;
	struct symbolizer *s = sym_new("/proc");
	struct sym_loc loc;
	struct child c[3];
	int i;

	assert_non_null(s);
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < 3; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/symtest%d", dir, i);
		copy_file(SYMTEST, path[i]);
		spawn(path[i], &c[i]);
		assert_int_equal(proctab__refresh(procs, c[i].pid), 0);
		reap(&c[i]);
		assert_int_equal(unlink(path[i]), 0);
		if (i == 0) {
			symbolizer__stats(s, &before);
			assert_int_equal(symbolizer__user(s, c[0].pid, c[0].plain_function, &loc),
					 0);
			symbolizer__stats(s, &after);
			/* symtest's table, and maybe its libraries' (symbolized lazily: none). */
			assert_int_equal(after.files, before.files + 1);
			assert_int_equal(after.opened, before.opened + 1);
			assert_true(after.file_bytes > before.file_bytes);
			assert_true(after.cache_bytes > before.cache_bytes);
		}
	}
	assert_int_equal(rmdir(dir), 0);
	symbolizer__stats(s, &before);
	for (i = 0; i < 3; i++) {
		assert_int_equal(symbolizer__user(s, c[i].pid, c[i].plain_function, &loc), 0);
		assert_int_equal(loc.nframes, 1);
		assert_string_equal(loc.frames[0].function, "plain_function");
	}
	symbolizer__stats(s, &after);
	assert_int_equal(after.files, before.files);
	assert_int_equal(after.opened, before.opened);
	sym_free(s);
}

static void test_libc(void **state)
{
	struct symbolizer *s = sym_new("/proc");
	void *qsort_addr = dlsym(RTLD_DEFAULT, "qsort");
	void *getpid_addr = dlsym(RTLD_DEFAULT, "getpid");
	struct sym_loc loc;
	const char *name;

	assert_non_null(s);
	assert_non_null(qsort_addr);
	assert_non_null(getpid_addr);
	assert_int_equal(proctab__refresh(procs, getpid()), 0);

	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)qsort_addr, &loc), 0);
	assert_non_null(strstr(loc.map_file, "libc.so"));
	assert_true(loc.has_functions);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "qsort");

	/* glibc defines getpid as __getpid with a weak alias: either name is right. */
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)getpid_addr, &loc), 0);
	assert_true(loc.nframes >= 1);
	name = loc.frames[loc.nframes - 1].function;
	assert_non_null(name);
	if (strcmp(name, "getpid") && strcmp(name, "__getpid"))
		fail_msg("getpid symbolized as %s", name);
	sym_free(s);
}

/* Files idle long enough are closed, and opened again when asked for. */
static void test_close_idle(void **state)
{
	struct symbolizer *s = sym_new("/proc");
	void *qsort_addr = dlsym(RTLD_DEFAULT, "qsort");
	struct sym_loc loc;
	int64_t before;

	(void)state;
	assert_non_null(s);
	assert_int_equal(proctab__refresh(procs, getpid()), 0);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)qsort_addr, &loc), 0);
	assert_string_equal(loc.frames[0].function, "qsort");
	assert_int_equal(symbolizer__open_files(s), 1);
	before = mono_ns();
	/* Used after `before`: stays. */
	assert_int_equal(symbolizer__close_idle(s, before - 1000000000LL), 0);
	assert_int_equal(symbolizer__close_idle(s, before + 1), 1);
	assert_int_equal(symbolizer__open_files(s), 0);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)qsort_addr, &loc), 0);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "qsort");
	assert_int_equal(symbolizer__open_files(s), 1);
	sym_free(s);
}

/* Evicted with its process, a file's ELF goes; tracked again, it comes back. */
static void test_evicted_files(void **state)
{
	struct symbolizer *s = sym_new("/proc");
	void *qsort_addr = dlsym(RTLD_DEFAULT, "qsort");
	struct sym_loc loc;

	assert_non_null(s);
	assert_int_equal(proctab__refresh(procs, getpid()), 0);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)qsort_addr, &loc), 0);
	assert_string_equal(loc.frames[0].function, "qsort");
	assert_true(filetab__count(proctab__files(procs)) > 0);

	proctab__exit(procs, getpid());
	proctab__evict(procs, 0);
	/* Only the vdso stays: one copy for the kernel's life. */
	assert_int_equal(filetab__count(proctab__files(procs)), 1);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)qsort_addr, &loc), -ENOENT);

	assert_int_equal(proctab__refresh(procs, getpid()), 0);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)qsort_addr, &loc), 0);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "qsort");
	sym_free(s);
}

static void test_own_vdso(void **state)
{
	/* glibc lists the vdso as a library; not so under valgrind. */
	void *vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
	struct symbolizer *s;
	struct sym_loc loc;
	void *fn;

	if (!vdso)
		skip();
	s = sym_new("/proc");
	fn = dlsym(vdso, "__vdso_clock_gettime");
	assert_non_null(fn);
	assert_non_null(s);
	assert_int_equal(proctab__refresh(procs, getpid()), 0);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)fn, &loc), 0);
	assert_string_equal(loc.map_file, "[vdso]");
	assert_true(loc.has_functions);
	assert_int_equal(loc.nframes, 1);
	assert_non_null(strstr(loc.frames[0].function, "clock_gettime"));
	dlclose(vdso);
	sym_free(s);
}

static void test_fixture_mappings(void **state)
{
	struct symbolizer *s = sym_new(PROCFS);
	void *vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
	struct sym_loc loc;

	assert_non_null(s);
	assert_int_equal(proctab__refresh(procs, FIXTURE_PID), 0);

	/* Anonymous executable memory (a JIT): the mapping, without frames. */
	assert_int_equal(symbolizer__user(s, FIXTURE_PID, 0x7f3a30000123, &loc), 0);
	assert_int_equal(loc.map_start, 0x7f3a30000000);
	assert_int_equal(loc.map_end, 0x7f3a30400000);
	assert_string_equal(loc.map_file, "");
	assert_string_equal(loc.build_id, "");
	assert_int_equal(loc.nframes, 0);

	/*
	 * A file that cannot be opened (it is not under the fake root) keeps its
	 * mapping, and its frames are named by their offset in the file.
	 */
	assert_int_equal(symbolizer__user(s, FIXTURE_PID, 0x55d4c3a02345, &loc), 0);
	assert_string_equal(loc.map_file, "/opt/my app/bin/server");
	assert_int_equal(loc.map_offset, 0x2000);
	assert_false(loc.has_functions);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "server+0x2345");

	assert_int_equal(symbolizer__user(s, FIXTURE_PID, 0x7f3a34a01000, &loc), 0);
	assert_string_equal(loc.map_file, "/tmp/libplugin.so");

	/* Not executable (heap), a gap, an unknown pid. */
	assert_int_equal(symbolizer__user(s, FIXTURE_PID, 0x55d4c4c3e000, &loc), -ENOENT);
	assert_int_equal(loc.nframes, 0);
	assert_null(loc.map_file);
	assert_int_equal(symbolizer__user(s, FIXTURE_PID, 0x1000, &loc), -ENOENT);
	assert_int_equal(symbolizer__user(s, 4243, 0x7f3a30000123, &loc), -ENOENT);
	assert_int_equal(proctab__refresh(procs, 4243), -ESRCH);

	/* The vdso of any process is symbolized from this process's copy. */
	if (vdso) {
		uint64_t own = getauxval(AT_SYSINFO_EHDR);
		void *fn = dlsym(vdso, "__vdso_clock_gettime");

		assert_non_null(fn);
		assert_int_equal(symbolizer__user(s, FIXTURE_PID,
						  0x7ffd5c3f6000 + ((uintptr_t)fn - own), &loc),
				 0);
		assert_string_equal(loc.map_file, "[vdso]");
		assert_int_equal(loc.nframes, 1);
		assert_non_null(strstr(loc.frames[0].function, "clock_gettime"));
		dlclose(vdso);
	}
	sym_free(s);
}

static void write_maps(const char *dir, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/7/maps", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_merge_and_reset(void **state)
{
	char dir[] = "/tmp/test_symbolize.XXXXXX", path[PATH_MAX];
	struct symbolizer *s;
	struct sym_loc loc;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/7", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	s = sym_new(dir);
	assert_non_null(s);

	write_maps(dir, "1000-2000 r-xp 00000000 00:00 0 \n"
			"5000-6000 r-xp 00001000 fd:01 11 /lib/old.so\n");
	assert_int_equal(proctab__refresh(procs, 7), 0);
	/* old.so went away, new.so took part of its range, the anon code went too. */
	write_maps(dir, "5800-7000 r-xp 00002000 fd:01 12 /lib/new.so\n"
			"9000-a000 r-xp 00000000 00:00 0 \n");
	assert_int_equal(proctab__refresh(procs, 7), 0);

	assert_int_equal(symbolizer__user(s, 7, 0x1800, &loc), 0);
	assert_string_equal(loc.map_file, "");
	/* Overlapped by a newer mapping: the older one is gone entirely. */
	assert_int_equal(symbolizer__user(s, 7, 0x5000, &loc), -ENOENT);
	assert_int_equal(symbolizer__user(s, 7, 0x5800, &loc), 0);
	assert_string_equal(loc.map_file, "/lib/new.so");
	assert_int_equal(loc.map_offset, 0x2000);
	assert_int_equal(symbolizer__user(s, 7, 0x9fff, &loc), 0);

	/* After exec, nothing of the old image stays. */
	write_maps(dir, "9000-a000 r-xp 00000000 00:00 0 \n");
	assert_int_equal(proctab__exec(procs, 7), 0);
	assert_int_equal(symbolizer__user(s, 7, 0x1800, &loc), -ENOENT);
	assert_int_equal(symbolizer__user(s, 7, 0x5800, &loc), -ENOENT);
	assert_int_equal(symbolizer__user(s, 7, 0x9000, &loc), 0);
	sym_free(s);

	snprintf(path, sizeof(path), "%s/7/maps", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/7", dir);
	rmdir(path);
	rmdir(dir);
}

static void test_many_pids(void **state)
{
	struct symbolizer *s = sym_new(PROCFS);
	struct sym_loc loc;
	int pid;

	/* Untracked pids in a grown table still miss, and tracked ones hit. */
	assert_non_null(s);
	assert_int_equal(proctab__refresh(procs, FIXTURE_PID), 0);
	for (pid = 1; pid < 300; pid++)
		assert_int_equal(symbolizer__user(s, pid, 0x7f3a30000123, &loc), -ENOENT);
	assert_int_equal(symbolizer__user(s, FIXTURE_PID, 0x7f3a30000123, &loc), 0);
	sym_free(s);
	sym_free(NULL);
}

static void test_kernel(void **state)
{
	struct symbolizer *s = sym_new(PROCFS);
	struct sym_loc loc;
	uint64_t addr;

	assert_non_null(s);
	assert_int_equal(symbolizer__kernel(s, 0xffffffff816b89f0 + 0x42, &loc), 0);
	assert_string_equal(loc.map_file, "[kernel.kallsyms]");
	assert_int_equal(loc.map_start, 0xffffffff81000000);
	assert_true(loc.map_end > 0xffffffffc0b10400);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "vfs_read");
	assert_null(loc.frames[0].file);

	/* A module symbol keeps its plain name. */
	assert_int_equal(symbolizer__kernel(s, 0xffffffffc0a02010, &loc), 0);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "ext4_fill_super");

	assert_int_equal(symbolizer__kernel(s, 0x1000, &loc), 0);
	assert_int_equal(loc.nframes, 0);

	/* Name → address from the same kallsyms, as offcpu trims its stacks by. */
	assert_int_equal(symbolizer__kernel_addr(s, "schedule", &addr), 0);
	assert_int_equal(addr, 0xffffffff821f94a0);
	assert_int_equal(symbolizer__kernel_addr(s, "no_such_function", &addr), -ENOENT);
	sym_free(s);
}

static void test_kernel_unavailable(void **state)
{
	/* The fixture's pid directories, but no kallsyms. */
	struct symbolizer *s = sym_new(PROCFS "/4242");
	struct sym_loc loc;
	uint64_t addr;

	assert_non_null(s);
	assert_int_equal(symbolizer__kernel(s, 0xffffffff816b89f0, &loc), -ENOENT);
	assert_int_equal(loc.nframes, 0);
	/* The failure is remembered, not retried. */
	assert_int_equal(symbolizer__kernel(s, 0xffffffff816b89f0, &loc), -ENOENT);
	assert_int_equal(symbolizer__kernel_addr(s, "vfs_read", &addr), -ENOENT);
	sym_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_child_process, kill_live_child),
		cmocka_unit_test_teardown(test_deleted_binary, kill_live_child),
		cmocka_unit_test_teardown(test_stripped_binary, kill_live_child),
		cmocka_unit_test_teardown(test_one_table_per_build_id, kill_live_child),
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_evicted_files),
		cmocka_unit_test(test_own_vdso),
		cmocka_unit_test(test_fixture_mappings),
		cmocka_unit_test(test_close_idle),
		cmocka_unit_test(test_merge_and_reset),
		cmocka_unit_test(test_many_pids),
		cmocka_unit_test(test_kernel),
		cmocka_unit_test(test_kernel_unavailable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
