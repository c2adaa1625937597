// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "symbolize/jit.h"
#include "util/bsearch.h"
#include "util/log.h"
#include "util/strpool.h"
#include "util/util.h"

struct jitmap {
	struct strpool *pool;
	struct jit_sym *syms;
	size_t n, cap;
	uint64_t *maxend; /* maxend[i]: the largest end among syms[0..i], when sorted */
	bool dirty;	  /* added to since sorted */
	uint64_t seq;
	size_t line_bytes;
};

struct jitmap *jitmap__new(struct strpool *pool)
{
	struct jitmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->pool = pool;
	return m;
}

void jitmap__clear(struct jitmap *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free((void *)m->syms[i].lines);
	m->n = 0;
	m->line_bytes = 0;
	m->dirty = false;
}

void jitmap__free(struct jitmap *m)
{
	if (!m)
		return;
	jitmap__clear(m);
	free(m->syms);
	free(m->maxend);
	free(m);
}

static int line_cmp(const void *a, const void *b)
{
	const struct jit_line *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int jitmap__add(struct jitmap *m, uint64_t start, uint64_t size, const char *name, size_t len,
		const struct jit_line *lines, size_t nlines)
{
	struct jit_line *copy = NULL;
	struct jit_sym *syms;
	const char *s;

	if (!size || start + size < start)
		return -EINVAL;
	syms = array_grow(m->syms, &m->cap, m->n, sizeof(*syms), 256);
	if (!syms)
		return -ENOMEM;
	m->syms = syms;
	s = strpool__addn(m->pool, name, len);
	if (!s)
		return -ENOMEM;
	if (nlines) {
		copy = malloc(nlines * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, lines, nlines * sizeof(*copy));
		qsort(copy, nlines, sizeof(*copy), line_cmp);
		m->line_bytes += nlines * sizeof(*copy);
	}
	m->syms[m->n++] = (struct jit_sym){ .start = start,
					    .end = start + size,
					    .name = s,
					    .seq = ++m->seq,
					    .lines = copy,
					    .nlines = nlines };
	m->dirty = true;
	return 0;
}

int jitmap__move(struct jitmap *m, uint64_t old_start, uint64_t new_start, uint64_t size)
{
	const struct jit_sym *old = jitmap__find(m, old_start);
	struct jit_line *lines = NULL;
	size_t i;
	int err;

	if (!old || old->start != old_start)
		return -ENOENT;
	if (old->nlines) {
		lines = malloc(old->nlines * sizeof(*lines));
		if (!lines)
			return -ENOMEM;
		for (i = 0; i < old->nlines; i++) {
			lines[i] = old->lines[i];
			lines[i].addr = old->lines[i].addr - old_start + new_start;
		}
	}
	err = jitmap__add(m, new_start, size ? size : old->end - old->start, old->name,
			  strlen(old->name), lines, old ? old->nlines : 0);
	free(lines);
	return err;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct jit_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts, keeps only the last entry written for each range, and indexes ends. */
static int jitmap_sort(struct jitmap *m)
{
	uint64_t *maxend;
	size_t i, n = 0;

	qsort(m->syms, m->n, sizeof(*m->syms), sym_cmp);
	for (i = 0; i < m->n; i++) {
		if (n && m->syms[n - 1].start == m->syms[i].start &&
		    m->syms[n - 1].end == m->syms[i].end) {
			/* The same range written again: the later one (sorted after) wins. */
			m->line_bytes -= m->syms[n - 1].nlines * sizeof(struct jit_line);
			free((void *)m->syms[n - 1].lines);
			m->syms[n - 1] = m->syms[i];
			continue;
		}
		m->syms[n++] = m->syms[i];
	}
	m->n = n;
	maxend = realloc(m->maxend, (n ? n : 1) * sizeof(*maxend));
	if (!maxend)
		return -ENOMEM;
	m->maxend = maxend;
	for (i = 0; i < n; i++)
		maxend[i] = i && maxend[i - 1] > m->syms[i].end ? maxend[i - 1] : m->syms[i].end;
	m->dirty = false;
	return 0;
}

const struct jit_sym *jitmap__find(struct jitmap *m, uint64_t addr)
{
	const struct jit_sym *best = NULL;
	size_t lo;

	if (m->dirty && jitmap_sort(m))
		return NULL;
	/* The first entry starting after addr. */
	lo = bsearch_upper(m->syms, m->n, addr, start);
	/* Back over the entries starting at or before addr while one may still hold it. */
	while (lo > 0 && m->maxend[lo - 1] > addr) {
		const struct jit_sym *s = &m->syms[--lo];

		if (s->end > addr && (!best || s->seq > best->seq))
			best = s;
	}
	return best;
}

const struct jit_line *jit_sym__line(const struct jit_sym *sym, uint64_t addr)
{
	return bsearch_last_le(sym->lines, sym->nlines, addr, addr);
}

const char *jitmap__intern(struct jitmap *m, const char *s, size_t len)
{
	return strpool__addn(m->pool, s, len);
}

size_t jitmap__count(const struct jitmap *m)
{
	return m->n;
}

size_t jitmap__bytes(const struct jitmap *m)
{
	return sizeof(*m) + m->cap * (sizeof(*m->syms) + sizeof(*m->maxend)) + m->line_bytes;
}

/* Hexadecimal digits, with or without "0x"; the end of them in *end. */
static int parse_hex(const char *s, const char *lim, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	int digits = 0, d;

	if (lim - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; s < lim; s++, digits++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v >> 60)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	if (!digits)
		return -EINVAL;
	*out = v;
	*end = s;
	return 0;
}

int perfmap__parse_line(const char *s, size_t len, uint64_t *start, uint64_t *size,
			const char **name, size_t *name_len)
{
	const char *lim = s + len, *p;

	if (parse_hex(s, lim, start, &p) || p == lim || *p != ' ')
		return -EINVAL;
	if (parse_hex(p + 1, lim, size, &p) || p == lim || *p != ' ' || !*size)
		return -EINVAL;
	p++;
	while (lim > p && (lim[-1] == '\r' || lim[-1] == ' '))
		lim--;
	if (p == lim)
		return -EINVAL;
	*name = p;
	*name_len = lim - p;
	return 0;
}

#define JIT_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)

static int openat2_in_root(int root_fd, const char *path)
{
	struct open_how how = {
		.flags = JIT_OPEN_FLAGS,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

/* -ENOSYS once openat2 was found missing: every open then takes the old way. */
static int openat2_err;

/* path under root by the old way: only its last component is kept from being a link. */
static int open_joined(const char *root, const char *path)
{
	char full[PATH_MAX];

	if (snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	return open(full, JIT_OPEN_FLAGS);
}

int jit_open_in_root(const char *root, const char *path, struct stat *st)
{
	int root_fd, fd;

	if (!root) {
		fd = open(path, JIT_OPEN_FLAGS);
	} else if (openat2_err) {
		fd = open_joined(root, path);
	} else {
		root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			return -errno;
		fd = openat2_in_root(root_fd, path);
		if (fd < 0 && errno == ENOSYS) {
			openat2_err = -ENOSYS;
			pr_warn("openat2 is missing (Linux 5.6+): runtimes' files are opened "
				"through "
				"%s, where a symbolic link in a container's path leads to the "
				"host's\n",
				root);
			fd = open_joined(root, path);
		}
		close(root_fd);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

#define PERFMAP_CHUNK (64 * 1024)
#define PERFMAP_MAX_LINE 4096

static void perfmap_restart(struct perfmap *pm, const struct stat *st, struct jitmap *m)
{
	if (pm->reads)
		pm->rereads++;
	jitmap__clear(m);
	pm->dev = st->st_dev;
	pm->ino = st->st_ino;
	pm->off = 0;
	pm->ntail = 0;
}

/* Whether the bytes before pm->off are still those taken: not rewritten in place. */
static bool perfmap_same(const struct perfmap *pm, int fd)
{
	char buf[sizeof(pm->tail)];

	if (!pm->ntail)
		return true;
	return pread(fd, buf, pm->ntail, pm->off - pm->ntail) == (ssize_t)pm->ntail &&
	       memcmp(buf, pm->tail, pm->ntail) == 0;
}

int perfmap__read(struct perfmap *pm, const char *path, struct jitmap *m)
{
	return perfmap__read_in(pm, NULL, path, m);
}

int perfmap__read_in(struct perfmap *pm, const char *root, const char *path, struct jitmap *m)
{
	char *buf;
	size_t have = 0, i, start, name_len;
	uint64_t addr, size;
	const char *name;
	struct stat st;
	ssize_t got;
	int fd, err = 0;

	fd = jit_open_in_root(root, path, &st);
	if (fd < 0)
		return fd;
	if (!pm->reads || (uint64_t)st.st_dev != pm->dev || (uint64_t)st.st_ino != pm->ino ||
	    (uint64_t)st.st_size < pm->off || !perfmap_same(pm, fd))
		perfmap_restart(pm, &st, m);
	pm->reads++;
	buf = malloc(PERFMAP_CHUNK);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		got = pread(fd, buf + have, PERFMAP_CHUNK - have, pm->off + have);
		if (got < 0) {
			err = -errno;
			break;
		}
		if (got == 0)
			break; /* a partial last line waits for the next read */
		pm->bytes_read += got;
		have += got;
		for (start = 0, i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			if (perfmap__parse_line(buf + start, i - start, &addr, &size, &name,
						&name_len) == 0) {
				err = jitmap__add(m, addr, size, name, name_len, NULL, 0);
				if (err == -ENOMEM)
					break;
				pm->lines += !err;
				err = 0;
			} else {
				pm->bad++;
			}
			start = i + 1;
		}
		if (err)
			break;
		if (start) {
			/* Remember the end of what was taken, to notice a rewrite. */
			pm->ntail = start < sizeof(pm->tail) ? start : sizeof(pm->tail);
			memcpy(pm->tail, buf + start - pm->ntail, pm->ntail);
		}
		pm->off += start;
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have >= PERFMAP_MAX_LINE) {
			/* No newline in a line this long: not a perf map line, skip it. */
			pm->bad++;
			pm->off += have;
			have = 0;
			pm->ntail = 0;
		}
	}
	free(buf);
	close(fd);
	return err;
}

bool jit_mapping(const char *path)
{
	/* As perf: anonymous memory, named anonymous memory, memfd, /dev/zero. */
	return !path[0] || !strcmp(path, "//anon") || !strncmp(path, "[anon:", 6) ||
	       !strncmp(path, "/memfd:", 7) || !strncmp(path, "/dev/zero", 9) ||
	       !strncmp(path, "/anon_hugepage", 14);
}

bool jit_dump_path(const char *path)
{
	const char *base = path_base(path);
	size_t len = strlen(base);

	return len > 9 && !strncmp(base, "jit-", 4) && !strcmp(base + len - 5, ".dump");
}
