// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "proc/maps.h"

#define DELETED_SUFFIX " (deleted)"

/*
 * Parses a hex number followed by sep and advances *p past sep.  By hand:
 * strtoull would also take spaces, signs and "0x", which maps never has.
 */
static int parse_hex(const char **p, char sep, uint64_t *val)
{
	const char *s = *p;
	uint64_t v = 0;
	int digit;

	for (; *s != sep; s++) {
		if (*s >= '0' && *s <= '9')
			digit = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			digit = *s - 'a' + 10;
		else
			return -EINVAL; /* also the end of the line */
		if (v >> 60)
			return -EINVAL;
		v = v << 4 | digit;
	}
	if (s == *p)
		return -EINVAL;
	*val = v;
	*p = s + 1;
	return 0;
}

/* The inode: decimal, ending the line or followed by a space. */
static int parse_inode(const char **p, uint64_t *val)
{
	const char *s = *p;
	uint64_t v = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	if (s == *p || (*s != ' ' && *s != '\0'))
		return -EINVAL;
	*val = v;
	*p = s;
	return 0;
}

static int parse_perms(const char **p, struct vma *v)
{
	const char *s = *p;

	if ((s[0] != 'r' && s[0] != '-') || (s[1] != 'w' && s[1] != '-') ||
	    (s[2] != 'x' && s[2] != '-') || (s[3] != 'p' && s[3] != 's') || s[4] != ' ')
		return -EINVAL;
	v->read = s[0] == 'r';
	v->write = s[1] == 'w';
	v->exec = s[2] == 'x';
	v->shared = s[3] == 's';
	*p = s + 5;
	return 0;
}

/* Fills v from one line without its newline; v->path is malloc'd. */
static int parse_line(const char *line, struct vma *v)
{
	size_t len, slen = strlen(DELETED_SUFFIX);
	const char *p = line;
	uint64_t major, minor;

	if (parse_hex(&p, '-', &v->start) || parse_hex(&p, ' ', &v->end) || v->start >= v->end ||
	    parse_perms(&p, v) || parse_hex(&p, ' ', &v->offset) || parse_hex(&p, ':', &major) ||
	    parse_hex(&p, ' ', &minor) || parse_inode(&p, &v->inode) || major > UINT32_MAX ||
	    minor > UINT32_MAX)
		return -EINVAL;
	v->dev_major = major;
	v->dev_minor = minor;
	/* The kernel pads the path column; paths themselves start with '/' or '['. */
	while (*p == ' ')
		p++;
	len = strlen(p);
	v->deleted = len >= slen && !strcmp(p + len - slen, DELETED_SUFFIX);
	if (v->deleted)
		len -= slen;
	v->path = strndup(p, len);
	return v->path ? 0 : -ENOMEM;
}

static int vma_cmp(const void *a, const void *b)
{
	const struct vma *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

int procmaps__parse(FILE *f, struct vma_list *out)
{
	struct vma_list l = {};
	size_t cap = 0, lineno = 0, linecap = 0;
	char *line = NULL;
	ssize_t len;
	int err = 0;

	while ((len = getline(&line, &linecap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (l.n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct vma *vmas = realloc(l.vmas, ncap * sizeof(*vmas));

			if (!vmas) {
				err = -ENOMEM;
				goto cleanup;
			}
			l.vmas = vmas;
			cap = ncap;
		}
		err = parse_line(line, &l.vmas[l.n]);
		if (err) {
			if (err == -EINVAL)
				pr_debug("maps line %zu malformed: %s\n", lineno, line);
			goto cleanup;
		}
		l.n++;
	}
	if (ferror(f)) {
		err = errno ? -errno : -EIO;
		goto cleanup;
	}
	/* The kernel lists vmas in order; sorting anyway keeps lookups safe for any input. */
	qsort(l.vmas, l.n, sizeof(*l.vmas), vma_cmp);
	*out = l;
	l = (struct vma_list){};
cleanup:
	free(line);
	procmaps__free(&l);
	return err;
}

int procmaps__read(const char *procfs, int pid, struct vma_list *out)
{
	char path[PATH_MAX];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/%d/maps", procfs, pid);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		return err == -ENOENT ? -ESRCH : err;
	}
	err = procmaps__parse(f, out);
	fclose(f);
	return err;
}

const struct vma *procmaps__find(const struct vma_list *l, uint64_t addr)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vma *v = &l->vmas[mid];

		if (addr < v->start)
			hi = mid;
		else if (addr >= v->end)
			lo = mid + 1;
		else
			return v;
	}
	return NULL;
}

void procmaps__free(struct vma_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->vmas[i].path);
	free(l->vmas);
	l->vmas = NULL;
	l->n = 0;
}
