// SPDX-License-Identifier: Apache-2.0
/* Perf maps and jitdump: parsing, growth, replacement, and the symbolizer's use of them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc/procs.h"
#include "symbolize/jit.h"
#include "symbolize/symbolize.h"
#include "util/strpool.h"

struct fx {
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
	struct strpool *pool;
	struct jitmap *m;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "%s/bpfprof-jit-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/perf-7.map", f->dir);
	f->pool = strpool__new();
	f->m = jitmap__new(f->pool);
	*state = f;
	return f->pool && f->m ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 16];

	jitmap__free(f->m);
	strpool__free(f->pool);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static void write_file(const char *path, const char *mode, const void *data, size_t len)
{
	FILE *fp = fopen(path, mode);

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void put(const char *path, const char *mode, const char *text)
{
	write_file(path, mode, text, strlen(text));
}

static const char *name_at(struct jitmap *m, uint64_t addr)
{
	const struct jit_sym *s = jitmap__find(m, addr);

	return s ? s->name : NULL;
}

static void test_parse_line(void **state)
{
	uint64_t start, size;
	const char *name;
	size_t len;
	const char *ok[] = { "7f00 10 foo", "0x7f00 0x10 foo", "7F00 0X10 foo", "7f00 10 foo\r" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(
			perfmap__parse_line(ok[i], strlen(ok[i]), &start, &size, &name, &len), 0);
		assert_int_equal(start, 0x7f00);
		assert_int_equal(size, 0x10);
		assert_int_equal(len, 3);
		assert_memory_equal(name, "foo", 3);
	}
	/* A name with spaces is kept whole. */
	assert_int_equal(
		perfmap__parse_line("1 2 LazyCompile:*f a.js:1", 25, &start, &size, &name, &len),
		0);
	assert_int_equal(len, 21);
	const char *bad[] = { "",	    "7f00",
			      "7f00 10",    "7f00 10 ",
			      "x 10 foo",   "7f00 zz foo",
			      "7f00 0 foo", "7f00\t10 foo",
			      "0x 1 foo",   "11112222333344445 1 foo" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
			perfmap__parse_line(bad[i], strlen(bad[i]), &start, &size, &name, &len),
			-EINVAL);
}

static void test_read_both_spellings(void **state)
{
	struct fx *f = *state;
	struct perfmap pm = { 0 };

	put(f->path, "w",
	    "1000 100 node_fn\n"
	    "0x2000 0x40 Interpreter\n"
	    "not a line\n"
	    "0x00007f0000003000 0x0000000000000020 java.lang.String::hashCode\n");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_int_equal(pm.lines, 3);
	assert_int_equal(pm.bad, 1);
	assert_string_equal(name_at(f->m, 0x1000), "node_fn");
	assert_string_equal(name_at(f->m, 0x10ff), "node_fn");
	assert_null(name_at(f->m, 0x1100));
	assert_null(name_at(f->m, 0xfff));
	assert_string_equal(name_at(f->m, 0x2020), "Interpreter");
	assert_string_equal(name_at(f->m, 0x7f0000003010), "java.lang.String::hashCode");
}

static void test_growth_and_partial_line(void **state)
{
	struct fx *f = *state;
	struct perfmap pm = { 0 };
	uint64_t bytes;

	put(f->path, "w", "1000 10 first\n2000 1");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_int_equal(pm.lines, 1);
	assert_null(name_at(f->m, 0x2000)); /* cut mid-line: not taken yet */
	bytes = pm.bytes_read;
	put(f->path, "a", "0 second\n3000 10 third\n");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_int_equal(pm.lines, 3);
	assert_int_equal(pm.rereads, 0);
	/* Only the unfinished line and what was appended were read again. */
	assert_int_equal(pm.bytes_read - bytes, strlen("2000 10 second\n3000 10 third\n"));
	assert_string_equal(name_at(f->m, 0x2005), "second");
	assert_string_equal(name_at(f->m, 0x3000), "third");
	assert_string_equal(name_at(f->m, 0x1000), "first");
	/* Nothing new: nothing read. */
	bytes = pm.bytes_read;
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_int_equal(pm.bytes_read, bytes);
}

static void test_later_entry_wins(void **state)
{
	struct fx *f = *state;
	struct perfmap pm = { 0 };

	/* Code freed and its memory reused: the same range, then an overlapping one. */
	put(f->path, "w", "1000 100 old\n5000 1000 big\n1000 100 new\n");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_string_equal(name_at(f->m, 0x1050), "new");
	assert_int_equal(jitmap__count(f->m), 2); /* the replaced range is dropped */
	put(f->path, "a", "5800 10 inner\n");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_string_equal(name_at(f->m, 0x5805), "inner");
	assert_string_equal(name_at(f->m, 0x5810), "big");
	assert_string_equal(name_at(f->m, 0x5000), "big");
	/* An older, larger entry still holds what the newer leaves out. */
	put(f->path, "a", "5000 20 over\n");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_string_equal(name_at(f->m, 0x5010), "over");
	assert_string_equal(name_at(f->m, 0x5805), "inner");
	assert_string_equal(name_at(f->m, 0x5f00), "big");
}

static void test_replaced_and_shrunk(void **state)
{
	struct fx *f = *state;
	struct perfmap pm = { 0 };
	char tmp[PATH_MAX + 32];

	put(f->path, "w", "1000 10 a\n2000 10 b\n3000 10 c\n");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_int_equal(jitmap__count(f->m), 3);

	/* Shrunk: read again from the start, old entries gone. */
	put(f->path, "w", "4000 10 d\n");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_int_equal(pm.rereads, 1);
	assert_null(name_at(f->m, 0x1000));
	assert_string_equal(name_at(f->m, 0x4000), "d");

	/* Rewritten in place, larger (as jcmd Compiler.perfmap does). */
	put(f->path, "w", "5000 10 e\n6000 10 f\n7000 10 g\n");
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_int_equal(pm.rereads, 2);
	assert_null(name_at(f->m, 0x4000));
	assert_string_equal(name_at(f->m, 0x5000), "e");
	assert_int_equal(jitmap__count(f->m), 3);

	/* Replaced by another file (a new inode), larger. */
	snprintf(tmp, sizeof(tmp), "%s.new", f->path);
	put(tmp, "w", "8000 10 h\n9000 10 i\na000 10 j\nb000 10 k\n");
	assert_int_equal(rename(tmp, f->path), 0);
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_int_equal(pm.rereads, 3);
	assert_null(name_at(f->m, 0x5000));
	assert_string_equal(name_at(f->m, 0xb000), "k");
	assert_int_equal(jitmap__count(f->m), 4);
}

static void test_refused_files(void **state)
{
	struct fx *f = *state;
	struct perfmap pm = { 0 };
	char link[PATH_MAX + 16];

	assert_int_equal(perfmap__read(&pm, f->path, f->m), -ENOENT);
	/* A symbolic link (a container pointing at a host file) is not followed. */
	put(f->path, "w", "1000 10 a\n");
	snprintf(link, sizeof(link), "%s/perf-8.map", f->dir);
	assert_int_equal(symlink(f->path, link), 0);
	assert_int_equal(perfmap__read(&pm, link, f->m), -ELOOP);
	/* A directory is not a map. */
	assert_int_equal(perfmap__read(&pm, f->dir, f->m), -EINVAL);
	/* A line with no end in sight is skipped, the next ones are read. */
	{
		size_t n = 10000;
		char *big = malloc(n + 32);

		memset(big, 'z', n);
		strcpy(big + n, "\n1000 10 after\n");
		put(f->path, "w", big);
		free(big);
	}
	assert_int_equal(perfmap__read(&pm, f->path, f->m), 0);
	assert_string_equal(name_at(f->m, 0x1000), "after");
}

static void test_mapping_kinds(void **state)
{
	assert_true(jit_mapping(""));
	assert_true(jit_mapping("[anon:v8 code]"));
	assert_true(jit_mapping("/memfd:doublemapper"));
	assert_true(jit_mapping("//anon"));
	assert_false(jit_mapping("/usr/bin/node"));
	assert_false(jit_mapping("[vdso]"));
	assert_false(jit_mapping("[stack]"));
	assert_true(jit_dump_path("/home/u/jit-1234.dump"));
	assert_true(jit_dump_path("jit-1.dump"));
	assert_false(jit_dump_path("/home/u/jit-.dump"));
	assert_false(jit_dump_path("/home/u/jit-1234.dump.gz"));
	assert_false(jit_dump_path("/home/u/perf-1234.map"));
}

/* A jitdump writer, as a runtime would write one. */
struct jd_writer {
	unsigned char *buf;
	size_t len, cap;
};

static void jd_put(struct jd_writer *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2;
		w->buf = realloc(w->buf, w->cap);
		assert_non_null(w->buf);
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void jd_u32(struct jd_writer *w, uint32_t v)
{
	jd_put(w, &v, 4);
}

static void jd_u64(struct jd_writer *w, uint64_t v)
{
	jd_put(w, &v, 8);
}

static void jd_header(struct jd_writer *w)
{
	jd_u32(w, 0x4A695444);
	jd_u32(w, 1);
	jd_u32(w, 40);
	jd_u32(w, 62); /* EM_X86_64 */
	jd_u32(w, 0);
	jd_u32(w, 7);
	jd_u64(w, 1);
	jd_u64(w, 0);
}

static void jd_pad(struct jd_writer *w, size_t rec)
{
	while ((w->len - rec) % 8)
		jd_put(w, "", 1);
	memcpy(w->buf + rec + 4, &(uint32_t){ w->len - rec }, 4);
}

static void jd_load(struct jd_writer *w, uint64_t addr, uint64_t size, const char *name)
{
	size_t rec = w->len;

	jd_u32(w, 0);
	jd_u32(w, 0);
	jd_u64(w, 2);
	jd_u32(w, 7);
	jd_u32(w, 7);
	jd_u64(w, addr);
	jd_u64(w, addr);
	jd_u64(w, size);
	jd_u64(w, 1);
	jd_put(w, name, strlen(name) + 1);
	for (uint64_t i = 0; i < size; i++)
		jd_put(w, "\xcc", 1);
	jd_pad(w, rec);
}

static void jd_move(struct jd_writer *w, uint64_t from, uint64_t to, uint64_t size)
{
	size_t rec = w->len;

	jd_u32(w, 1);
	jd_u32(w, 0);
	jd_u64(w, 3);
	jd_u32(w, 7);
	jd_u32(w, 7);
	jd_u64(w, to);
	jd_u64(w, from);
	jd_u64(w, to);
	jd_u64(w, size);
	jd_u64(w, 1);
	jd_pad(w, rec);
}

/* Entries' addresses as V8 writes them: the code's, plus the 64-byte ELF header. */
static void jd_debug(struct jd_writer *w, uint64_t code, const uint64_t *offs, const int *lines,
		     int n, const char *file)
{
	size_t rec = w->len;

	jd_u32(w, 2);
	jd_u32(w, 0);
	jd_u64(w, 4);
	jd_u64(w, code);
	jd_u64(w, n);
	for (int i = 0; i < n; i++) {
		jd_u64(w, code + offs[i] + 64);
		jd_u32(w, lines[i]);
		jd_u32(w, 0);
		jd_put(w, file, strlen(file) + 1);
	}
	jd_pad(w, rec);
}

static void jd_unwinding(struct jd_writer *w)
{
	size_t rec = w->len;

	jd_u32(w, 4);
	jd_u32(w, 0);
	jd_u64(w, 5);
	jd_u64(w, 16);
	jd_u64(w, 8);
	jd_u64(w, 16);
	jd_put(w, "0123456789abcdef", 16);
	jd_pad(w, rec);
}

static void test_jitdump(void **state)
{
	struct fx *f = *state;
	struct jd_writer w = { 0 };
	struct jitdump jd = { 0 };
	const struct jit_sym *s;
	const struct jit_line *l;
	char path[PATH_MAX + 16];
	size_t cut;
	static const uint64_t offs[] = { 0, 0x10, 0x30 };
	static const int lines[] = { 3, 4, 9 };

	snprintf(path, sizeof(path), "%s/jit-7.dump", f->dir);
	jd_header(&w);
	/* Not even a header yet: nothing, no error. */
	write_file(path, "w", w.buf, 20);
	assert_int_equal(jitdump__read(&jd, path, f->m), 0);
	assert_int_equal(jitmap__count(f->m), 0);

	jd_debug(&w, 0x10000, offs, lines, 3, "/srv/app.js");
	jd_load(&w, 0x10000, 0x40, "JS:*work /srv/app.js:3");
	jd_unwinding(&w);
	jd_load(&w, 0x20000, 0x20, "Builtin:Foo");
	cut = w.len;
	jd_load(&w, 0x30000, 0x20, "JS:~late /srv/app.js:20");
	/* The tail cut mid-record: what is whole is read, the rest waits. */
	write_file(path, "w", w.buf, cut + 30);
	assert_int_equal(jitdump__read(&jd, path, f->m), 0);
	assert_int_equal(jd.loads, 2);
	assert_int_equal(jd.debug_infos, 1);
	assert_int_equal(jd.unwinding_infos, 1);
	assert_int_equal(jd.off, cut);
	s = jitmap__find(f->m, 0x10020);
	assert_non_null(s);
	assert_string_equal(s->name, "JS:*work /srv/app.js:3");
	l = jit_sym__line(s, 0x10020);
	assert_non_null(l);
	assert_int_equal(l->line, 4);
	assert_string_equal(l->file, "/srv/app.js");
	assert_int_equal(jit_sym__line(s, 0x10000)->line, 3);
	assert_int_equal(jit_sym__line(s, 0x1003f)->line, 9);
	s = jitmap__find(f->m, 0x20000);
	assert_non_null(s);
	assert_int_equal(s->nlines, 0); /* the debug info was for the other function */
	assert_null(jitmap__find(f->m, 0x30000));

	/* The rest arrives, then the first function moves. */
	jd_move(&w, 0x10000, 0x50000, 0x40);
	write_file(path, "w", w.buf, w.len);
	assert_int_equal(jitdump__read(&jd, path, f->m), 0);
	assert_int_equal(jd.loads, 3);
	assert_int_equal(jd.moves, 1);
	assert_string_equal(name_at(f->m, 0x30010), "JS:~late /srv/app.js:20");
	s = jitmap__find(f->m, 0x50020);
	assert_non_null(s);
	assert_string_equal(s->name, "JS:*work /srv/app.js:3");
	assert_int_equal(jit_sym__line(s, 0x50020)->line, 4);

	/* A debug entry whose file name is not text (Node 20 writes some): line kept, file not. */
	jd_debug(&w, 0x60000, offs, lines, 1, "\x08\x0f\xb2'");
	jd_load(&w, 0x60000, 0x10, "JS:*odd x.js:1");
	write_file(path, "w", w.buf, w.len);
	assert_int_equal(jitdump__read(&jd, path, f->m), 0);
	assert_int_equal(jd.bad_names, 1);
	s = jitmap__find(f->m, 0x60004);
	assert_non_null(s);
	assert_int_equal(jit_sym__line(s, 0x60004)->line, 3);
	assert_null(jit_sym__line(s, 0x60004)->file);

	/* Garbage framing: refused in one error, what was read stays. */
	jd_u32(&w, 0);
	jd_u32(&w, 3); /* a record shorter than its header */
	jd_u64(&w, 0);
	write_file(path, "w", w.buf, w.len);
	assert_int_equal(jitdump__read(&jd, path, f->m), -EINVAL);
	assert_string_equal(name_at(f->m, 0x20000), "Builtin:Foo");

	/* Not a jitdump. */
	jitdump__fini(&jd);
	memset(&jd, 0, sizeof(jd));
	put(path, "w", "this is not a jitdump file at all, not even close\n");
	assert_int_equal(jitdump__read(&jd, path, f->m), -EINVAL);
	jitdump__fini(&jd);
	free(w.buf);
}

/*
 * The symbolizer: a process in its own pid namespace (NSpid 4242 → 7) whose
 * map is in its root's /tmp, found for an address in anonymous executable
 * memory, and read again when a lookup misses.
 */
static void test_symbolizer(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 64];
	struct proctab *t;
	struct symbolizer *s;
	struct sym_loc loc;

	snprintf(path, sizeof(path), "%s/4242", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/root", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/root/tmp", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/status", f->dir);
	put(path, "w", "Name:\tnode\nTgid:\t4242\nPid:\t4242\nNSpid:\t4242\t7\n");
	snprintf(path, sizeof(path), "%s/4242/maps", f->dir);
	put(path, "w",
	    "7f0000000000-7f0000100000 r-xp 00000000 00:00 0 \n"
	    "7f0000200000-7f0000300000 r-xp 00000000 00:00 0 [anon:v8 jit]\n"
	    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]\n");
	snprintf(path, sizeof(path), "%s/4242/root/tmp/perf-7.map", f->dir);
	put(path, "w", "7f0000001000 100 JS:*hot app.js:1\n0x7f0000200000 0x10 Stub\n");

	t = proctab__new(f->dir);
	assert_non_null(t);
	assert_int_equal(proctab__refresh(t, 4242), 0);
	s = symbolizer__new(t);
	assert_non_null(s);

	assert_int_equal(symbolizer__user(s, 4242, 0x7f0000001080, &loc), 0);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "JS:*hot app.js:1");
	assert_string_equal(loc.map_file, "/tmp/perf-7.map");
	assert_true(loc.has_functions);
	assert_int_equal(loc.map_start, 0x7f0000000000);
	assert_int_equal(symbolizer__user(s, 4242, 0x7f0000200008, &loc), 0);
	assert_string_equal(loc.frames[0].function, "Stub");

	/* Compiled since: the miss right after the first read does not read again... */
	put(path, "a", "7f0000002000 100 JS:*late app.js:9\n");
	assert_int_equal(symbolizer__user(s, 4242, 0x7f0000002010, &loc), 0);
	assert_int_equal(loc.nframes, 0);
	assert_int_equal(symbolizer__jit_stats(s)->miss_reads, 0);
	/* ...the session's refresh does. */
	symbolizer__jit_refresh(s, 4242);
	assert_int_equal(symbolizer__user(s, 4242, 0x7f0000002010, &loc), 0);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "JS:*late app.js:9");
	assert_int_equal(symbolizer__jit_stats(s)->map_entries, 3);

	/* Forgotten by the process table: its JIT names go too. */
	assert_int_equal(symbolizer__jit_forget_gone(s), 0);
	proctab__forget(t, 4242);
	assert_int_equal(symbolizer__jit_forget_gone(s), 1);
	assert_int_equal(symbolizer__jit_stats(s)->map_entries, 0);

	symbolizer__free(s);
	proctab__free(t);
}

/*
 * A container's perf map is opened inside its root: a symbolic link on the
 * way (its /tmp, say) resolves there, never to the host's files, even as
 * an absolute path or through "..".  A link that stays inside is fine.
 */
static void test_open_in_root(void **state)
{
	struct fx *f = *state;
	char root[PATH_MAX + 16], host[PATH_MAX + 16], path[2 * PATH_MAX];
	struct perfmap pm = { 0 };
	struct stat st;
	int fd;

	snprintf(root, sizeof(root), "%s/root", f->dir);
	snprintf(host, sizeof(host), "%s/host", f->dir);
	assert_int_equal(mkdir(root, 0755), 0);
	assert_int_equal(mkdir(host, 0755), 0);
	snprintf(path, sizeof(path), "%s/perf-7.map", host);
	put(path, "w", "1000 10 host_secret\n");
	/* /tmp in the container: a link to the host's directory, by absolute path. */
	snprintf(path, sizeof(path), "%s/tmp", root);
	assert_int_equal(symlink(host, path), 0);
	/* Joined to the root and opened on the host, it would be followed. */
	snprintf(path, sizeof(path), "%s/tmp/perf-7.map", root);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	assert_true(fd >= 0);
	close(fd);
	/* In the root the link's target does not exist (or loops back to the link). */
	assert_true(jit_open_in_root(root, "/tmp/perf-7.map", &st) < 0);
	assert_true(perfmap__read_in(&pm, root, "/tmp/perf-7.map", f->m) < 0);
	assert_null(name_at(f->m, 0x1000));
	/* By "..": it stops at the root. */
	snprintf(path, sizeof(path), "%s/up", root);
	assert_int_equal(symlink("../../host", path), 0);
	assert_int_equal(jit_open_in_root(root, "/up/perf-7.map", &st), -ENOENT);
	assert_int_equal(jit_open_in_root(root, "/../host/perf-7.map", &st), -ENOENT);
	/* A link inside the root: the container's own file. */
	snprintf(path, sizeof(path), "%s/var", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/var/tmp", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/var/tmp/perf-8.map", root);
	put(path, "w", "2000 10 container_fn\n");
	snprintf(path, sizeof(path), "%s/tmp8", root);
	assert_int_equal(symlink("/var/tmp", path), 0);
	assert_int_equal(perfmap__read_in(&pm, root, "/tmp8/perf-8.map", f->m), 0);
	assert_string_equal(name_at(f->m, 0x2000), "container_fn");
	/* The last component stays refused as a link. */
	snprintf(path, sizeof(path), "%s/var/tmp/perf-9.map", root);
	assert_int_equal(symlink("perf-8.map", path), 0);
	assert_int_equal(jit_open_in_root(root, "/var/tmp/perf-9.map", &st), -ELOOP);
}

/*
 * A long-running capture sees JIT processes come and go: each one's names
 * (every one distinct) go with it, so what the symbolizer holds for JIT
 * code does not grow with the processes it has seen.
 */
static void test_names_freed_with_process(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 64], line[128];
	size_t first = 0, most = 0, bytes, heap_at_10 = 0;
	struct proctab *t;
	struct symbolizer *s;
	struct sym_loc loc;
	FILE *fp;
	int pid, i;

	t = proctab__new(f->dir);
	assert_non_null(t);
	s = symbolizer__new(t);
	assert_non_null(s);
	for (pid = 5000; pid < 5200; pid++) {
		snprintf(path, sizeof(path), "%s/%d", f->dir, pid);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/%d/root", f->dir, pid);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/%d/root/tmp", f->dir, pid);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/%d/status", f->dir, pid);
		snprintf(line, sizeof(line), "Name:\tnode\nTgid:\t%d\nNSpid:\t%d\n", pid, pid);
		put(path, "w", line);
		snprintf(path, sizeof(path), "%s/%d/maps", f->dir, pid);
		put(path, "w", "7f0000000000-7f0000100000 r-xp 00000000 00:00 0 \n");
		snprintf(path, sizeof(path), "%s/%d/root/tmp/perf-%d.map", f->dir, pid, pid);
		fp = fopen(path, "w");
		assert_non_null(fp);
		for (i = 0; i < 500; i++)
			fprintf(fp, "%llx 10 JS:*function_%d_of_process_%d app.js:%d\n",
				0x7f0000001000ULL + 0x10 * i, i, pid, i);
		assert_int_equal(fclose(fp), 0);

		assert_int_equal(proctab__refresh(t, pid), 0);
		assert_int_equal(symbolizer__user(s, pid, 0x7f0000001000 + 0x10 * 7, &loc), 0);
		assert_int_equal(loc.nframes, 1);
		snprintf(line, sizeof(line), "JS:*function_7_of_process_%d app.js:7", pid);
		assert_string_equal(loc.frames[0].function, line);
		bytes = symbolizer__jit_stats(s)->bytes;
		first = first ? first : bytes;
		most = bytes > most ? bytes : most;
		proctab__forget(t, pid);
		assert_int_equal(symbolizer__jit_forget_gone(s), 1);
		assert_int_equal(symbolizer__jit_stats(s)->bytes, 0);
		if (pid == 5010)
			heap_at_10 = mallinfo2().uordblks;
	}
	/* 200 processes of 500 names each: one process's worth at most. */
	assert_true(most <= first);
	/* And the heap agrees: 190 more processes' names (~4.5 MB) are not kept. */
	bytes = mallinfo2().uordblks;
	printf("heap in use after 10 JIT processes: %zu bytes, after 200: %zu\n", heap_at_10,
	       bytes);
	assert_true(bytes < heap_at_10 + 512 * 1024);
	symbolizer__free(s);
	proctab__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_mapping_kinds),
		cmocka_unit_test_setup_teardown(test_read_both_spellings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_and_partial_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_later_entry_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_and_shrunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jitdump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symbolizer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_freed_with_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_in_root, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
