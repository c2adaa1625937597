// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/types.h>

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
/* v->path from a maps path column (or a PROCMAP_QUERY name): malloc'd, " (deleted)" off. */
static int set_path(struct vma *v, const char *p)
{
	size_t len = strlen(p), slen = strlen(DELETED_SUFFIX);

	v->deleted = len >= slen && !strcmp(p + len - slen, DELETED_SUFFIX);
	if (v->deleted)
		len -= slen;
	v->path = strndup(p, len);
	return v->path ? 0 : -ENOMEM;
}

static int parse_line(const char *line, struct vma *v)
{
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
	return set_path(v, p);
}

static int vma_cmp(const void *a, const void *b)
{
	const struct vma *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/* Room for one more vma in l. */
static int grow(struct vma_list *l, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	struct vma *vmas;

	if (l->n < *cap)
		return 0;
	vmas = realloc(l->vmas, ncap * sizeof(*vmas));
	if (!vmas)
		return -ENOMEM;
	l->vmas = vmas;
	*cap = ncap;
	return 0;
}

static int parse(FILE *f, bool exec_only, struct vma_list *out)
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
		err = grow(&l, &cap);
		if (err)
			goto cleanup;
		err = parse_line(line, &l.vmas[l.n]);
		if (err) {
			if (err == -EINVAL)
				pr_debug("maps line %zu malformed: %s\n", lineno, line);
			goto cleanup;
		}
		if (exec_only && !l.vmas[l.n].exec) {
			free(l.vmas[l.n].path);
			continue;
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

int procmaps__parse(FILE *f, struct vma_list *out)
{
	return parse(f, false, out);
}

/*
 * PROCMAP_QUERY (Linux 6.11, <linux/fs.h>): one VMA per ioctl on an open
 * maps file, chosen by address and permissions, without the text of every
 * other one.  Declared here, as the build's headers may predate it.
 */
struct procmap_query_arg {
	__u64 size;
	__u64 query_flags;
	__u64 query_addr;
	__u64 vma_start;
	__u64 vma_end;
	__u64 vma_flags;
	__u64 vma_page_size;
	__u64 vma_offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
	__u32 vma_name_size;
	__u32 build_id_size;
	__u64 vma_name_addr;
	__u64 build_id_addr;
};

#define PROCMAP_QUERY_IOCTL _IOWR('f', 17, struct procmap_query_arg)
#define PMQ_VMA_READABLE 0x01
#define PMQ_VMA_WRITABLE 0x02
#define PMQ_VMA_EXECUTABLE 0x04
#define PMQ_VMA_SHARED 0x08
#define PMQ_COVERING_OR_NEXT_VMA 0x10

/*
 * The executable VMAs of the maps file fd by PROCMAP_QUERY: -ENOTTY where
 * the kernel (or the file: a test's fixture) has no such ioctl.
 */
static int query_exec(int fd, struct vma_list *out)
{
	struct procmap_query_arg q;
	struct vma_list l = {};
	char name[PATH_MAX];
	uint64_t addr = 0;
	size_t cap = 0;
	struct vma *v;
	int err;

	for (;;) {
		q = (struct procmap_query_arg){
			.size = sizeof(q),
			.query_flags = PMQ_COVERING_OR_NEXT_VMA | PMQ_VMA_EXECUTABLE,
			.query_addr = addr,
			.vma_name_size = sizeof(name),
			.vma_name_addr = (uintptr_t)name,
		};
		if (ioctl(fd, PROCMAP_QUERY_IOCTL, &q)) {
			err = errno == ENOENT ? 0 : -errno; /* ENOENT: no more */
			break;
		}
		if (q.vma_end <= addr || q.vma_start >= q.vma_end) {
			err = -EINVAL;
			break;
		}
		err = grow(&l, &cap);
		if (err)
			break;
		v = &l.vmas[l.n];
		*v = (struct vma){
			.start = q.vma_start,
			.end = q.vma_end,
			.offset = q.vma_offset,
			.inode = q.inode,
			.dev_major = q.dev_major,
			.dev_minor = q.dev_minor,
			.read = q.vma_flags & PMQ_VMA_READABLE,
			.write = q.vma_flags & PMQ_VMA_WRITABLE,
			.exec = q.vma_flags & PMQ_VMA_EXECUTABLE,
			.shared = q.vma_flags & PMQ_VMA_SHARED,
		};
		name[q.vma_name_size && q.vma_name_size <= sizeof(name) ? q.vma_name_size - 1 : 0] =
			'\0';
		err = set_path(v, name);
		if (err)
			break;
		l.n++;
		addr = q.vma_end;
	}
	if (err) {
		procmaps__free(&l);
		return err;
	}
	*out = l; /* in address order, as the kernel walks them */
	return 0;
}

static int read_maps(const char *procfs, int pid, bool exec_only, struct vma_list *out)
{
	char path[PATH_MAX];
	FILE *f;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%d/maps", procfs, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		return err == -ENOENT ? -ESRCH : err;
	}
	/*
	 * No memory to query (-ESRCH: a kernel thread, or a process exiting
	 * since the open): the text says the same as it always did, nothing.
	 */
	if (exec_only) {
		err = query_exec(fd, out);
		if (err != -ENOTTY && err != -EINVAL && err != -ESRCH) {
			close(fd);
			return err;
		}
	}
	f = fdopen(fd, "re");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	err = parse(f, exec_only, out);
	fclose(f);
	return err;
}

int procmaps__read(const char *procfs, int pid, struct vma_list *out)
{
	return read_maps(procfs, pid, false, out);
}

int procmaps__read_exec(const char *procfs, int pid, struct vma_list *out)
{
	return read_maps(procfs, pid, true, out);
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
