// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "proc/maps.h"
#include "proc/procs.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strpool.h"
#include "util/util.h"

struct proctab {
	char *procfs;
	struct filetab *files;
	struct strpool *paths;
	/* Forgotten processes leave a NULL hole, compacted when holes abound. */
	struct pproc **procs;
	size_t n, cap, holes;
	struct hashtab by_pid; /* over procs[] */
	uint64_t exits;
};

struct proctab *proctab__new(const char *procfs)
{
	struct proctab *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->procfs = strdup(procfs);
	t->files = filetab__new();
	t->paths = strpool__new();
	if (!t->procfs || !t->files || !t->paths) {
		proctab__free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

static void pproc_free(struct pproc *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->maps[i].file)
			p->maps[i].file->refs--;
	free(p->maps);
	free(p);
}

void proctab__free(struct proctab *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		if (t->procs[i])
			pproc_free(t->procs[i]);
	free(t->procs);
	hashtab__fini(&t->by_pid);
	filetab__free(t->files);
	strpool__free(t->paths);
	free(t->procfs);
	free(t);
}

const char *proctab__procfs(const struct proctab *t)
{
	return t->procfs;
}

struct filetab *proctab__files(struct proctab *t)
{
	return t->files;
}

static bool pid_eq(const void *ctx, size_t idx, const void *key)
{
	const struct proctab *t = ctx;

	return t->procs[idx] && t->procs[idx]->pid == *(const int *)key;
}

static long find_idx(const struct proctab *t, int pid)
{
	return hashtab__find(&t->by_pid, hash_u64((uint32_t)pid), pid_eq, t, &pid);
}

const struct pproc *proctab__find(const struct proctab *t, int pid)
{
	long idx = find_idx(t, pid);

	return idx >= 0 ? t->procs[idx] : NULL;
}

struct pproc *proctab__get(struct proctab *t, int pid)
{
	long idx = find_idx(t, pid);
	struct pproc *p;

	if (idx >= 0)
		return t->procs[idx];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct pproc **procs = realloc(t->procs, cap * sizeof(*procs));

		if (!procs)
			return NULL;
		t->procs = procs;
		t->cap = cap;
	}
	p = calloc(1, sizeof(*p));
	if (!p || hashtab__insert(&t->by_pid, hash_u64((uint32_t)pid), t->n)) {
		free(p);
		return NULL;
	}
	p->pid = pid;
	t->procs[t->n++] = p;
	return p;
}

int proctab__set_exe(struct proctab *t, struct pproc *p, const char *path)
{
	const char *exe = strpool__add(t->paths, path);

	if (!exe)
		return -ENOMEM;
	p->exe = exe;
	return 0;
}

const struct pmap *pproc__exe_map(const struct pproc *p)
{
	size_t i;

	for (i = 0; p && p->exe && i < p->n; i++)
		if (!strcmp(p->maps[i].path, p->exe))
			return &p->maps[i];
	return NULL;
}

/* The first recorded mapping ending after addr, as an index (n when none). */
static size_t map_lower(const struct pmap *m, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct pmap *pproc__find(const struct pproc *p, uint64_t addr)
{
	size_t i;

	if (!p)
		return NULL;
	i = map_lower(p->maps, p->n, addr);
	return i < p->n && p->maps[i].start <= addr ? &p->maps[i] : NULL;
}

static bool overlaps(const struct pmap *m, size_t n, const struct pmap *r)
{
	size_t i = map_lower(m, n, r->start);

	return i < n && m[i].start < r->end;
}

static int record(struct proctab *t, const struct pproc *p, const struct vma *v, struct pmap *r)
{
	const struct pmap *old;

	*r = (struct pmap){
		.start = v->start,
		.end = v->end,
		.offset = v->offset,
		.dev = makedev(v->dev_major, v->dev_minor),
		.ino = v->inode,
		.path = strpool__add(t->paths, v->path),
		.live = true,
	};
	if (!r->path)
		return -ENOMEM;
	/* Unchanged since the last read: the file is the one found then. */
	old = pproc__find(p, v->start);
	if (old && old->start == r->start && old->end == r->end && old->offset == r->offset &&
	    old->dev == r->dev && old->ino == r->ino && old->path == r->path && old->file)
		r->file = old->file;
	else if (v->path[0] == '/' || !strcmp(v->path, "[vdso]"))
		r->file = filetab__get(t->files, t->procfs, p->pid, v);
	if (r->file)
		r->file->refs++;
	return 0;
}

static int map_cmp(const void *a, const void *b)
{
	const struct pmap *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

static void unref(struct pmap *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].file)
			m[i].file->refs--;
}

static int merge(struct proctab *t, struct pproc *p, const struct vma_list *maps)
{
	struct pmap *m;
	size_t i, n = 0, nnew;
	int err;

	m = calloc(maps->n + p->n + 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (i = 0; i < maps->n; i++) {
		if (!maps->vmas[i].exec)
			continue;
		err = record(t, p, &maps->vmas[i], &m[n]);
		if (err) {
			unref(m, n);
			free(m);
			return err;
		}
		n++;
	}
	nnew = n;
	for (i = 0; i < p->n; i++) {
		if (overlaps(m, nnew, &p->maps[i])) {
			unref(&p->maps[i], 1);
			continue;
		}
		m[n] = p->maps[i];
		m[n++].live = false;
	}
	qsort(m, n, sizeof(*m), map_cmp);
	free(p->maps);
	p->maps = m;
	p->n = n;
	return 0;
}

int proctab__refresh(struct proctab *t, int pid)
{
	struct vma_list maps = {};
	struct pproc *p;
	int err;

	err = procmaps__read_exec(t->procfs, pid, &maps);
	if (err) {
		if (err == -ESRCH)
			proctab__exit(t, pid);
		else
			pr_warn("pid %d: cannot read maps: %s\n", pid, strerror(-err));
		return err;
	}
	p = proctab__get(t, pid);
	err = p ? merge(t, p, &maps) : -ENOMEM;
	if (p && !err)
		p->exited = false; /* a pid seen alive again */
	procmaps__free(&maps);
	return err;
}

struct pproc *proctab__fork(struct proctab *t, int pid, const struct pproc *parent)
{
	struct pproc *p = proctab__get(t, pid);
	struct pmap *m;
	size_t i;

	if (!p)
		return NULL;
	m = calloc(parent->n + 1, sizeof(*m));
	if (!m)
		return NULL;
	memcpy(m, parent->maps, parent->n * sizeof(*m));
	for (i = 0; i < parent->n; i++)
		if (m[i].file)
			m[i].file->refs++;
	unref(p->maps, p->n);
	free(p->maps);
	p->maps = m;
	p->n = parent->n;
	p->exe = parent->exe;
	p->exited = false;
	return p;
}

int proctab__exec(struct proctab *t, int pid)
{
	long idx = find_idx(t, pid);
	struct pproc *p;

	if (idx >= 0) {
		p = t->procs[idx];
		unref(p->maps, p->n);
		free(p->maps);
		p->maps = NULL;
		p->n = 0;
	}
	return proctab__refresh(t, pid);
}

void proctab__exit(struct proctab *t, int pid)
{
	long idx = find_idx(t, pid);

	if (idx >= 0 && !t->procs[idx]->exited) {
		t->procs[idx]->exited = true;
		t->procs[idx]->exit_seq = ++t->exits;
		t->procs[idx]->exited_at = mono_ns();
	}
}

/* The holes out and the pid index again: util/hash does not delete. */
static void compact(struct proctab *t)
{
	size_t i, n = 0;

	hashtab__fini(&t->by_pid);
	for (i = 0; i < t->n; i++)
		if (t->procs[i])
			t->procs[n++] = t->procs[i];
	t->n = n;
	t->holes = 0;
	/* Cannot fail: the slots just freed were at least this many. */
	if (hashtab__reserve(&t->by_pid, n))
		return;
	for (i = 0; i < n; i++)
		hashtab__insert(&t->by_pid, hash_u64((uint32_t)t->procs[i]->pid), i);
}

static void forget_idx(struct proctab *t, size_t idx)
{
	pproc_free(t->procs[idx]);
	t->procs[idx] = NULL;
	t->holes++;
}

void proctab__forget(struct proctab *t, int pid)
{
	long idx = find_idx(t, pid);

	if (idx < 0)
		return;
	forget_idx(t, idx);
	if (t->holes * 2 > t->n)
		compact(t);
}

size_t proctab__slots(const struct proctab *t)
{
	return t->n;
}

struct pproc *proctab__slot(const struct proctab *t, size_t i)
{
	return i < t->n ? t->procs[i] : NULL;
}

size_t proctab__count(const struct proctab *t)
{
	return t->n - t->holes;
}

size_t proctab__bytes(const struct proctab *t)
{
	size_t bytes = sizeof(*t) + t->cap * sizeof(*t->procs), i;

	for (i = 0; i < t->n; i++)
		if (t->procs[i])
			bytes += sizeof(*t->procs[i]) + t->procs[i]->n * sizeof(struct pmap);
	if (t->by_pid.slots)
		bytes += (t->by_pid.mask + 1) * sizeof(struct hashtab_slot);
	return bytes + filetab__bytes(t->files);
}

static int exit_cmp(const void *a, const void *b, void *ctx)
{
	const struct proctab *t = ctx;
	uint64_t x = t->procs[*(const size_t *)a]->exit_seq;
	uint64_t y = t->procs[*(const size_t *)b]->exit_seq;

	return x < y ? -1 : x > y;
}

size_t proctab__evict(struct proctab *t, size_t limit)
{
	size_t *dead, ndead = 0, i, bytes = proctab__bytes(t);

	dead = malloc((t->n ? t->n : 1) * sizeof(*dead));
	if (dead) {
		for (i = 0; i < t->n; i++)
			if (t->procs[i] && t->procs[i]->exited)
				dead[ndead++] = i;
		qsort_r(dead, ndead, sizeof(*dead), exit_cmp, t);
		for (i = 0; i < ndead && bytes > limit; i++) {
			bytes -= sizeof(struct pproc) + t->procs[dead[i]]->n * sizeof(struct pmap);
			forget_idx(t, dead[i]);
		}
		free(dead);
	}
	if (t->holes)
		compact(t);
	filetab__evict_unused(t->files);
	return proctab__bytes(t);
}

size_t proctab__evict_gone(struct proctab *t, int64_t before_ns)
{
	size_t i, n = 0;

	for (i = 0; i < t->n; i++) {
		if (t->procs[i] && t->procs[i]->exited && t->procs[i]->exited_at < before_ns) {
			forget_idx(t, i);
			n++;
		}
	}
	if (t->holes)
		compact(t);
	filetab__evict_unused(t->files);
	return n;
}
