// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "symbolize/elf.h"
#include "symbolize/kernel.h"
#include "util/log.h"
#include "proc/maps.h"
#include "symbolize/strpool.h"
#include "symbolize/symbolize.h"

/*
 * An executable mapping as recorded.  Stacks only ever hold code addresses,
 * so other mappings are not kept: a JVM has thousands of them.
 */
struct rec_vma {
	uint64_t start, end, offset;
	uint64_t dev, ino;
	const char *path;      /* interned, as in maps without " (deleted)" */
	struct sym_file *file; /* owned by the cache; NULL when it could not be opened */
};

struct proc {
	int pid;
	bool used;
	struct rec_vma *vmas; /* sorted by start, not overlapping */
	size_t n;
};

struct symbolizer {
	char *procfs;
	struct symcache *cache;
	struct strpool *strs;
	struct proc *procs; /* open addressing by pid */
	size_t procs_cap, nprocs;
	struct ksyms *ksyms;
	int ksyms_err; /* why kallsyms could not be loaded; 0 until tried */
	struct sym_file *vdso;
	bool vdso_tried;
};

struct symbolizer *symbolizer__new(const char *procfs)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->procfs = strdup(procfs);
	s->cache = symcache__new();
	s->strs = strpool__new();
	s->procs_cap = 64;
	s->procs = calloc(s->procs_cap, sizeof(*s->procs));
	if (!s->procfs || !s->cache || !s->strs || !s->procs) {
		symbolizer__free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void symbolizer__free(struct symbolizer *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->procs_cap; i++)
		free(s->procs[i].vmas);
	free(s->procs);
	ksyms__free(s->ksyms);
	symcache__free(s->cache);
	strpool__free(s->strs);
	free(s->procfs);
	free(s);
}

static size_t pid_slot(int pid, size_t cap)
{
	return ((uint32_t)pid * 2654435761u) & (cap - 1);
}

static struct proc *proc_find(struct symbolizer *s, int pid)
{
	size_t i;

	for (i = pid_slot(pid, s->procs_cap); s->procs[i].used; i = (i + 1) & (s->procs_cap - 1)) {
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	}
	return NULL;
}

static int procs_grow(struct symbolizer *s)
{
	size_t cap = s->procs_cap * 2, i, j;
	struct proc *procs = calloc(cap, sizeof(*procs));

	if (!procs)
		return -ENOMEM;
	for (i = 0; i < s->procs_cap; i++) {
		if (!s->procs[i].used)
			continue;
		for (j = pid_slot(s->procs[i].pid, cap); procs[j].used; j = (j + 1) & (cap - 1))
			;
		procs[j] = s->procs[i];
	}
	free(s->procs);
	s->procs = procs;
	s->procs_cap = cap;
	return 0;
}

static struct proc *proc_get(struct symbolizer *s, int pid)
{
	struct proc *p = proc_find(s, pid);
	size_t i;

	if (p)
		return p;
	if ((s->nprocs + 1) * 2 > s->procs_cap && procs_grow(s))
		return NULL;
	for (i = pid_slot(pid, s->procs_cap); s->procs[i].used; i = (i + 1) & (s->procs_cap - 1))
		;
	s->procs[i] = (struct proc){ .pid = pid, .used = true };
	s->nprocs++;
	return &s->procs[i];
}

/* The first recorded vma ending after addr, as an index (n when none). */
static size_t rec_lower(const struct rec_vma *v, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct rec_vma *rec_find(const struct proc *p, uint64_t addr)
{
	size_t i = rec_lower(p->vmas, p->n, addr);

	return i < p->n && p->vmas[i].start <= addr ? &p->vmas[i] : NULL;
}

static bool rec_overlaps(const struct rec_vma *v, size_t n, const struct rec_vma *r)
{
	size_t i = rec_lower(v, n, r->start);

	return i < n && v[i].start < r->end;
}

/*
 * The vdso is the same image in every process of one kernel and ABI, so
 * this process's own copy stands in for all.  libdwfl wants a file: the
 * image goes into a memfd.
 */
static struct sym_file *vdso_file(struct symbolizer *s)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	struct vma_list self = {};
	const struct vma *v;
	char path[64];
	struct stat st;
	int fd = -1;

	if (s->vdso_tried)
		return s->vdso;
	s->vdso_tried = true;
	if (!base || procmaps__read("/proc", getpid(), &self))
		goto cleanup;
	v = procmaps__find(&self, base);
	if (!v)
		goto cleanup;
	fd = memfd_create("vdso", MFD_CLOEXEC);
	if (fd < 0 ||
	    write(fd, (const void *)(uintptr_t)base, v->end - base) != (ssize_t)(v->end - base) ||
	    fstat(fd, &st))
		goto cleanup;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	s->vdso = symcache__open(s->cache, path, st.st_dev, st.st_ino);
cleanup:
	if (!s->vdso)
		pr_debug("cannot load the vdso image; [vdso] frames stay unsymbolized\n");
	if (fd >= 0)
		close(fd);
	procmaps__free(&self);
	return s->vdso;
}

/*
 * map_files reaches the very file mapped, even deleted or replaced, but
 * needs root; the path under the process's root follows its mount namespace.
 */
static struct sym_file *open_file(struct symbolizer *s, int pid, const struct vma *v)
{
	uint64_t dev = makedev(v->dev_major, v->dev_minor);
	char path[PATH_MAX];
	struct sym_file *f;

	if (!strcmp(v->path, "[vdso]"))
		return vdso_file(s);
	if (v->path[0] != '/')
		return NULL;
	snprintf(path, sizeof(path), "%s/%d/map_files/%" PRIx64 "-%" PRIx64, s->procfs, pid,
		 v->start, v->end);
	f = symcache__open(s->cache, path, dev, v->inode);
	/* A deleted file's path now names another file, or none. */
	if (f || v->deleted)
		return f;
	if (snprintf(path, sizeof(path), "%s/%d/root%s", s->procfs, pid, v->path) >=
	    (int)sizeof(path))
		return NULL;
	return symcache__open(s->cache, path, dev, v->inode);
}

static int record_vma(struct symbolizer *s, struct proc *p, int pid, const struct vma *v,
		      struct rec_vma *r)
{
	const struct rec_vma *old;

	*r = (struct rec_vma){
		.start = v->start,
		.end = v->end,
		.offset = v->offset,
		.dev = makedev(v->dev_major, v->dev_minor),
		.ino = v->inode,
		.path = strpool__add(s->strs, v->path),
	};
	if (!r->path)
		return -ENOMEM;
	/* Unchanged since the last call: skip reopening the file. */
	old = rec_find(p, v->start);
	if (old && old->start == r->start && old->end == r->end && old->offset == r->offset &&
	    old->dev == r->dev && old->ino == r->ino && old->path == r->path && old->file) {
		r->file = old->file;
		return 0;
	}
	r->file = open_file(s, pid, v);
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct rec_vma *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/* New mappings win; old ones they do not overlap stay (unmapped code may still be sampled). */
static int merge(struct symbolizer *s, struct proc *p, int pid, const struct vma_list *maps)
{
	struct rec_vma *vmas;
	size_t i, n = 0, nnew;
	int err;

	vmas = calloc(maps->n + p->n + 1, sizeof(*vmas));
	if (!vmas)
		return -ENOMEM;
	for (i = 0; i < maps->n; i++) {
		if (!maps->vmas[i].exec)
			continue;
		err = record_vma(s, p, pid, &maps->vmas[i], &vmas[n]);
		if (err) {
			free(vmas);
			return err;
		}
		n++;
	}
	nnew = n;
	for (i = 0; i < p->n; i++) {
		if (!rec_overlaps(vmas, nnew, &p->vmas[i]))
			vmas[n++] = p->vmas[i];
	}
	qsort(vmas, n, sizeof(*vmas), rec_cmp);
	free(p->vmas);
	p->vmas = vmas;
	p->n = n;
	return 0;
}

int symbolizer__track_pid(struct symbolizer *s, int pid)
{
	struct vma_list maps = {};
	struct proc *p;
	int err;

	err = procmaps__read(s->procfs, pid, &maps);
	if (err) {
		if (err != -ESRCH)
			pr_warn("pid %d: cannot read maps: %s\n", pid, strerror(-err));
		return err;
	}
	p = proc_get(s, pid);
	err = p ? merge(s, p, pid, &maps) : -ENOMEM;
	procmaps__free(&maps);
	return err;
}

int symbolizer__reset_pid(struct symbolizer *s, int pid)
{
	struct proc *p = proc_find(s, pid);

	if (p) {
		free(p->vmas);
		p->vmas = NULL;
		p->n = 0;
	}
	return symbolizer__track_pid(s, pid);
}

static void loc_reset(struct sym_loc *out)
{
	out->map_start = 0;
	out->map_end = 0;
	out->map_offset = 0;
	out->map_file = NULL;
	out->build_id = "";
	out->has_functions = false;
	out->has_lines = false;
	out->has_inlines = false;
	out->nframes = 0;
}

int symbolizer__user(struct symbolizer *s, int pid, uint64_t addr, struct sym_loc *out)
{
	const struct proc *p = proc_find(s, pid);
	const struct rec_vma *r;
	uint64_t vaddr;

	loc_reset(out);
	r = p ? rec_find(p, addr) : NULL;
	if (!r)
		return -ENOENT;
	out->map_start = r->start;
	out->map_end = r->end;
	out->map_offset = r->offset;
	out->map_file = r->path;
	/* Anonymous and JIT code: a mapping without symbols is still an answer. */
	if (!r->file)
		return 0;
	out->build_id = sym_file__build_id(r->file);
	out->has_functions = sym_file__has_symbols(r->file);
	out->has_lines = sym_file__has_lines(r->file);
	out->has_inlines = sym_file__has_dwarf(r->file);
	if (sym_file__offset_to_vaddr(r->file, addr - r->start + r->offset, &vaddr))
		return 0;
	out->nframes = sym_file__lookup(r->file, vaddr, out->frames, SYM_MAX_INLINE);
	return 0;
}

static int load_ksyms(struct symbolizer *s)
{
	char path[PATH_MAX];

	if (s->ksyms || s->ksyms_err)
		return s->ksyms_err;
	snprintf(path, sizeof(path), "%s/kallsyms", s->procfs);
	s->ksyms = ksyms__load(path);
	if (s->ksyms)
		return 0;
	s->ksyms_err = -errno;
	pr_warn("cannot load %s: %s%s; kernel frames stay unsymbolized\n", path,
		strerror(-s->ksyms_err),
		s->ksyms_err == -EACCES ? " (addresses hidden by kernel.kptr_restrict)" : "");
	return s->ksyms_err;
}

int symbolizer__kernel(struct symbolizer *s, uint64_t addr, struct sym_loc *out)
{
	const struct ksym *k;
	uint64_t lo, hi;

	loc_reset(out);
	if (load_ksyms(s))
		return -ENOENT;
	ksyms__range(s->ksyms, &lo, &hi);
	out->map_start = lo;
	out->map_end = hi < UINT64_MAX ? hi + 1 : hi;
	out->map_file = "[kernel.kallsyms]";
	out->has_functions = true;
	k = ksyms__find(s->ksyms, addr);
	if (!k)
		return 0;
	out->frames[0] = (struct sym_frame){ .function = k->name, .system_name = k->name };
	out->nframes = 1;
	return 0;
}

int symbolizer__kernel_addr(struct symbolizer *s, const char *name, uint64_t *addr)
{
	if (load_ksyms(s))
		return -ENOENT;
	return ksyms__addr(s->ksyms, name, addr);
}
