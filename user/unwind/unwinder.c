// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "bpfprof/types.h"
#include "util/hash.h"
#include "util/log.h"
#include "proc/procs.h"
#include "symbolize/jit.h"
#include "unwind/jitcode.h"
#include "unwind/space.h"
#include "unwind/table.h"
#include "unwind/unwinder.h"
#include "util/util.h"

#define UNWIND_PAGE_SHIFT 16 /* as in bpf/unwind.bpf.h */
#define MAX_SEGMENTS 8

struct segment {
	uint64_t offset, vaddr, filesz;
};

/*
 * A file's table, or a process's generated code's (jit_pid): an owner of a
 * run of rows and of a file id.
 */
struct file {
	struct pfile *pf; /* NULL once the file table evicted it, and for generated code */
	int jit_pid;	  /* the process whose generated code this describes; -1: slot free */
	uint32_t id;	  /* index + 1: its owner id in the row space */
	uint32_t file_id; /* 0: no table (none, or evicted) */
	bool evicted;	  /* had a table, lost it to a newer file */
	uint32_t first_page, last_page;
	struct segment segs[MAX_SEGMENTS];
	int nsegs;
};

/* A process with a jitdump: its generated code's table. */
struct jitproc {
	int pid;
	uint32_t id;	      /* its struct file's id */
	struct jitcode *code; /* what the jitdump describes */
	uint64_t base;	      /* the published rows are relative to it */
	uint64_t maps_sig;    /* its mappings of generated code when published */
};

struct unwinder {
	struct proctab *procs;	 /* borrowed */
	struct unwind_row *rows; /* the mmapped rows map */
	size_t max_rows;
	struct rowspace *space;
	uint64_t tick; /* one per track: the clock of the row space's LRU */
	uint32_t next_file_id;
	int pages_fd, procs_fd;
	struct file *files;
	size_t nfiles, cap;
	struct jitproc *jits;
	size_t njits, jits_cap;
	struct unwinder_stats stats;
};

/*
 * A file's rows are about to be reused: unpublish its pages first, so BPF
 * falls back to frame pointers for it instead of reading foreign rows.
 */
static void unpublish(struct unwinder *u, struct file *f)
{
	struct unwind_page_key key = { .file_id = f->file_id };

	for (key.page = f->first_page; key.page <= f->last_page; key.page++)
		bpf_map_delete_elem(u->pages_fd, &key);
	f->file_id = 0;
}

static void evict_file(void *ctx, uint32_t id)
{
	struct unwinder *u = ctx;
	struct file *f = &u->files[id - 1];

	unpublish(u, f);
	f->evicted = true;
	if (f->jit_pid)
		pr_debug("unwind table of pid %d's generated code evicted\n", f->jit_pid);
	else
		pr_debug("unwind table of %s evicted\n", f->pf ? f->pf->name : "a closed file");
}

/*
 * The file table closes a file (no tracked process maps it): its rows are
 * unpublished and given back.  Should it be mapped again, it is a new file.
 */
static void release_file(void *ctx, struct pfile *pf)
{
	struct unwinder *u = ctx;
	struct file *f = &u->files[(uintptr_t)pf->priv[PFILE_UNWINDER] - 1];

	if (f->file_id) {
		unpublish(u, f);
		rowspace__release(u->space, f->id);
	}
	f->pf = NULL;
	pf->priv[PFILE_UNWINDER] = NULL;
}

struct unwinder *unwinder__new(struct proctab *procs, int rows_fd, uint32_t max_rows, int pages_fd,
			       int procs_fd)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	void *mem;

	if (!u)
		return NULL;
	mem = mmap(NULL, (size_t)max_rows * sizeof(struct unwind_row), PROT_READ | PROT_WRITE,
		   MAP_SHARED, rows_fd, 0);
	if (mem == MAP_FAILED) {
		free(u);
		return NULL;
	}
	u->space = rowspace__new(max_rows, evict_file, u);
	if (!u->space) {
		munmap(mem, (size_t)max_rows * sizeof(struct unwind_row));
		free(u);
		return NULL;
	}
	u->procs = procs;
	filetab__on_release(proctab__files(procs), PFILE_UNWINDER, release_file, u);
	u->rows = mem;
	u->max_rows = max_rows;
	u->pages_fd = pages_fd;
	u->procs_fd = procs_fd;
	u->stats.max_rows = max_rows;
	if (bpf_obj_get_info_by_fd(procs_fd, &info, &len) == 0)
		u->stats.max_procs = info.max_entries;
	return u;
}

void unwinder__free(struct unwinder *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->njits; i++)
		jitcode__free(u->jits[i].code);
	free(u->jits);
	filetab__on_release(proctab__files(u->procs), PFILE_UNWINDER, NULL, NULL);
	filetab__clear_priv(proctab__files(u->procs), PFILE_UNWINDER);
	munmap(u->rows, u->max_rows * sizeof(struct unwind_row));
	rowspace__free(u->space);
	free(u->files);
	free(u);
}

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *out)
{
	struct jitcode_stats js;
	size_t i;

	*out = u->stats;
	out->rows = rowspace__used(u->space);
	out->evictions = rowspace__evictions(u->space);
	out->jit_procs = u->njits;
	for (i = 0; i < u->njits; i++) {
		jitcode__stats(u->jits[i].code, &js);
		out->jit_funcs += js.funcs;
		out->jit_bad += js.bad_tables;
		out->jit_dropped += js.dropped;
	}
}

static int read_segments(int fd, struct file *f)
{
	GElf_Phdr ph;
	size_t n, i;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -EINVAL;
	if (elf_getphdrnum(elf, &n)) {
		elf_end(elf);
		return -EINVAL;
	}
	for (i = 0; i < n && f->nsegs < MAX_SEGMENTS; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		f->segs[f->nsegs++] = (struct segment){ ph.p_offset, ph.p_vaddr, ph.p_filesz };
	}
	elf_end(elf);
	return 0;
}

/*
 * Publishes rows: the page index that lets BPF search a few rows only.
 * sparse: leave out pages holding no row whose rule from before is "no
 * CFI" (BPF finds no page there, the same as such a row): generated code
 * may lie scattered over gigabytes.
 */
static int load_pages(struct unwinder *u, uint32_t file_id, size_t base,
		      const struct unwind_table *t, bool sparse)
{
	struct unwind_page_key key = { .file_id = file_id };
	struct unwind_page page;
	uint64_t p, last_page;
	size_t i = 0, first;

	last_page = t->rows[t->n - 1].pc >> UNWIND_PAGE_SHIFT;
	for (p = t->rows[0].pc >> UNWIND_PAGE_SHIFT; p <= last_page; p++) {
		uint64_t lo = p << UNWIND_PAGE_SHIFT, hi = (p + 1) << UNWIND_PAGE_SHIFT;

		/* first: the last row starting at or before the page (it covers its start). */
		while (i + 1 < t->n && t->rows[i + 1].pc <= lo)
			i++;
		first = i;
		while (i + 1 < t->n && t->rows[i + 1].pc < hi)
			i++;
		if (sparse && first == i && t->rows[i].pc < lo && t->rows[i].cfa == UNWIND_NONE)
			continue;
		key.page = p;
		page.first = base + first;
		page.count = i - first + 1;
		if (bpf_map_update_elem(u->pages_fd, &key, &page, BPF_ANY))
			return -errno;
	}
	return 0;
}

static void build_table(struct unwinder *u, int fd, struct file *f, const char *name)
{
	struct unwind_table t;
	int64_t start = mono_ns();
	long base;
	int err;

	err = unwind_table__build(fd, &t);
	u->stats.build_ms += (mono_ns() - start) / 1e6;
	if (err) {
		pr_debug("%s: no unwind table: %s\n", name, strerror(-err));
		u->stats.files_no_cfi++;
		return;
	}
	base = rowspace__alloc(u->space, t.n, f->id, u->tick);
	if (base < 0) {
		pr_debug("%s: no room for %zu unwind rows\n", name, t.n);
		u->stats.files_full++;
		unwind_table__free(&t);
		return;
	}
	memcpy(u->rows + base, t.rows, t.n * sizeof(*t.rows));
	/* A new id for each build: pages of an evicted build must not alias. */
	f->file_id = ++u->next_file_id;
	f->first_page = t.rows[0].pc >> UNWIND_PAGE_SHIFT;
	f->last_page = t.rows[t.n - 1].pc >> UNWIND_PAGE_SHIFT;
	err = load_pages(u, f->file_id, base, &t, false);
	if (err) {
		pr_debug("%s: cannot load unwind pages: %s\n", name, strerror(-err));
		evict_file(u, f->id);
		u->stats.files_full++;
	} else {
		u->stats.files++;
		if (f->evicted)
			u->stats.rebuilds++;
		f->evicted = false;
		pr_debug("%s: unwind table of %zu rows (%zu functions)\n", name, t.n, t.nfdes);
	}
	unwind_table__free(&t);
}

/* A new owner of rows (zeroed, id set), or NULL: no memory. */
static struct file *new_file(struct unwinder *u)
{
	struct file *f;

	if (u->nfiles == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		struct file *files = realloc(u->files, cap * sizeof(*files));

		if (!files)
			return NULL;
		u->files = files;
		u->cap = cap;
	}
	f = &u->files[u->nfiles++];
	memset(f, 0, sizeof(*f));
	f->id = u->nfiles;
	return f;
}

/* The file behind an executable mapping, its table built on first sight. */
static struct file *file_for(struct unwinder *u, struct pfile *pf)
{
	uintptr_t idx = (uintptr_t)pf->priv[PFILE_UNWINDER];
	struct file *f;
	int fd;

	if (idx) {
		f = &u->files[idx - 1];
		if (f->evicted) {
			/* Still mapped by a live process: it needs its table back. */
			fd = pfile__open(pf);
			if (fd >= 0) {
				build_table(u, fd, f, pf->name);
				close(fd);
			}
		}
		return f;
	}
	fd = pfile__open(pf);
	if (fd < 0)
		return NULL;
	f = new_file(u);
	if (!f) {
		close(fd);
		return NULL;
	}
	f->pf = pf;
	pf->priv[PFILE_UNWINDER] = (void *)(uintptr_t)f->id;
	if (read_segments(fd, f) == 0)
		build_table(u, fd, f, pf->name);
	close(fd);
	return f;
}

/* ELF address = runtime address - bias, through the segment the mapping starts in. */
static bool mapping_bias(const struct file *f, const struct pmap *v, uint64_t *bias)
{
	int i;

	for (i = 0; i < f->nsegs; i++) {
		const struct segment *s = &f->segs[i];

		if (v->offset >= s->offset && v->offset < s->offset + s->filesz) {
			*bias = v->start - v->offset + s->offset - s->vaddr;
			return true;
		}
	}
	return false;
}

/*
 * The processes map is full: take out the processes that have exited.
 * Entries are never removed at exit (no event says so), so a long
 * system-wide capture fills the map with the dead, and a new process would
 * be left without tables.  Returns how many went.
 */
static size_t sweep_dead(struct unwinder *u)
{
	uint32_t key, next, *dead = NULL;
	size_t n = 0, cap = 0, i;
	char path[64];
	void *grown;
	int err;

	for (err = bpf_map_get_next_key(u->procs_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(u->procs_fd, &key, &next)) {
		key = next;
		snprintf(path, sizeof(path), "%s/%u", proctab__procfs(u->procs), key);
		if (access(path, F_OK) == 0 || errno != ENOENT)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(dead, cap * sizeof(*dead));
			if (!grown)
				break;
			dead = grown;
		}
		dead[n++] = key;
	}
	/* Deleting while walking would restart the walk: delete after. */
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(u->procs_fd, &dead[i]);
	free(dead);
	u->stats.procs_swept += n;
	pr_debug("unwind: %zu exited processes taken out of the full processes map\n", n);
	return n;
}

/* Whether the unwinder looks for a table behind m: a file, or the vdso. */
static struct pfile *table_file(const struct pmap *m)
{
	return m->live && m->file && (m->ino || m->file->vdso) ? m->file : NULL;
}

/*
 * Generated code: the rows of the functions a process's jitdump gave unwind
 * tables for, one table per process, relative to the lowest of them.
 */

/* Where a function of p's generated code lies now (jitcode_keep_fn). */
static int jit_keep(void *ctx, uint64_t start, uint64_t end)
{
	const struct pmap *m = pproc__find(ctx, start);

	if (!m || end > m->end)
		return 0; /* mapped since the maps were read, or not code: not now */
	if (!m->live)
		return -1; /* unmapped: gone for good */
	return jit_mapping(m->path) ? 1 : 0;
}

/* p's live mappings of generated code, as a number that changes when they do. */
static uint64_t jit_maps_sig(const struct pproc *p)
{
	uint64_t h = 0;
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->maps[i].live && jit_mapping(p->maps[i].path))
			h = hash_u64(h ^ p->maps[i].start) ^ p->maps[i].end;
	return h;
}

static struct jitproc *jit_find(struct unwinder *u, int pid)
{
	size_t i;

	for (i = 0; i < u->njits; i++)
		if (u->jits[i].pid == pid)
			return &u->jits[i];
	return NULL;
}

static struct jitproc *jit_add(struct unwinder *u, int pid)
{
	struct jitproc *j;
	struct file *f = NULL;
	size_t i;

	if (u->njits == u->jits_cap) {
		size_t cap = u->jits_cap ? u->jits_cap * 2 : 8;
		struct jitproc *grown = realloc(u->jits, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		u->jits = grown;
		u->jits_cap = cap;
	}
	/* A slot a gone process left, else a new one. */
	for (i = 0; i < u->nfiles && !f; i++)
		if (u->files[i].jit_pid == -1)
			f = &u->files[i];
	if (!f)
		f = new_file(u);
	if (!f)
		return NULL;
	j = &u->jits[u->njits];
	*j = (struct jitproc){ .pid = pid, .id = f->id, .code = jitcode__new() };
	if (!j->code) {
		f->jit_pid = -1;
		return NULL;
	}
	f->jit_pid = pid;
	f->file_id = 0;
	f->evicted = false;
	u->njits++;
	return j;
}

/* Takes j's rows out of BPF's sight and gives them back. */
static void jit_unpublish(struct unwinder *u, struct jitproc *j)
{
	struct file *f = &u->files[j->id - 1];

	if (!f->file_id)
		return;
	unpublish(u, f);
	rowspace__release(u->space, f->id);
}

/* The process is gone (or maps no jitdump any more): its table goes. */
static void jit_drop(struct unwinder *u, struct jitproc *j)
{
	jit_unpublish(u, j);
	u->files[j->id - 1].jit_pid = -1;
	jitcode__free(j->code);
	*j = u->jits[--u->njits];
}

/* Every so often, the tables of processes that have exited. */
static void jit_sweep(struct unwinder *u)
{
	const struct pproc *p;
	size_t i = 0;

	while (i < u->njits) {
		p = proctab__find(u->procs, u->jits[i].pid);
		if (!p || p->exited)
			jit_drop(u, &u->jits[i]);
		else
			i++;
	}
}

/* Builds and publishes j's table afresh; BPF falls back to frame pointers meanwhile. */
static void jit_publish(struct unwinder *u, struct jitproc *j, const struct pproc *p)
{
	struct unwind_table t;
	struct file *f;
	uint64_t base;
	long at;
	int err;

	jit_unpublish(u, j);
	err = jitcode__table(j->code, jit_keep, (void *)p, &base, &t);
	if (err)
		return;
	f = &u->files[j->id - 1];
	at = rowspace__alloc(u->space, t.n, f->id, u->tick);
	if (at < 0) {
		pr_debug("pid %d: no room for %zu unwind rows of generated code\n", j->pid, t.n);
		u->stats.jit_full++;
		unwind_table__free(&t);
		return;
	}
	memcpy(u->rows + at, t.rows, t.n * sizeof(*t.rows));
	f->file_id = ++u->next_file_id;
	f->first_page = t.rows[0].pc >> UNWIND_PAGE_SHIFT;
	f->last_page = t.rows[t.n - 1].pc >> UNWIND_PAGE_SHIFT;
	if (load_pages(u, f->file_id, at, &t, true)) {
		evict_file(u, f->id);
		rowspace__release(u->space, f->id);
		u->stats.jit_full++;
	} else {
		j->base = base;
		f->evicted = false;
		u->stats.jit_rows = t.n;
		pr_debug("pid %d: unwind table of %zu rows for %zu functions of generated code\n",
			 j->pid, t.n, t.nfdes);
	}
	unwind_table__free(&t);
}

/*
 * Reads what is new in p's jitdump and republishes its table when the code
 * or its mappings changed.  Returns the table's owner, or NULL: none.
 */
static struct file *jit_update(struct unwinder *u, const struct pproc *p)
{
	const char *dump = NULL;
	struct jitproc *j = jit_find(u, p->pid);
	char path[PATH_MAX];
	uint64_t sig;
	size_t i;
	int changed;

	for (i = 0; i < p->n && !dump; i++)
		if (p->maps[i].live && jit_dump_path(p->maps[i].path))
			dump = p->maps[i].path;
	if (!dump) {
		/* No jitdump (or not any more: an exec): nothing, or frame pointers. */
		if (j)
			jit_drop(u, j);
		return NULL;
	}
	if (!j)
		j = jit_add(u, p->pid);
	if (!j)
		return NULL;
	snprintf(path, sizeof(path), "%s/%d/root", proctab__procfs(u->procs), p->pid);
	changed = jitcode__read(j->code, path, dump);
	if (changed < 0)
		pr_debug("pid %d: cannot read %s: %s\n", p->pid, dump, strerror(-changed));
	sig = jit_maps_sig(p);
	if (changed > 0 || sig != j->maps_sig || !u->files[j->id - 1].file_id) {
		j->maps_sig = sig;
		jit_publish(u, j, p);
	}
	return u->files[j->id - 1].file_id ? &u->files[j->id - 1] : NULL;
}

int unwinder__track_pid(struct unwinder *u, int pid)
{
	const struct pproc *p = proctab__find(u->procs, pid);
	struct unwind_proc proc = { 0 };
	struct file *f, *jit;
	uint32_t jit_file_id = 0;
	uint64_t bias, jit_base = 0;
	struct pfile *pf;
	size_t i;
	int err;

	if (!p || p->exited)
		return -ESRCH;
	u->tick++;
	if (u->njits && !(u->tick % 64))
		jit_sweep(u);
	/* Generated code first: building a file's table below cannot evict it then. */
	jit = jit_update(u, p);
	if (jit) {
		rowspace__touch(u->space, jit->id, u->tick);
		jit_file_id = jit->file_id;
		jit_base = jit_find(u, pid)->base;
	}
	/* Mark every table this process uses first, so building one cannot evict another. */
	for (i = 0; i < p->n; i++) {
		pf = table_file(&p->maps[i]);
		if (pf && pf->priv[PFILE_UNWINDER]) {
			f = &u->files[(uintptr_t)pf->priv[PFILE_UNWINDER] - 1];
			if (f->file_id)
				rowspace__touch(u->space, f->id, u->tick);
		}
	}
	for (i = 0; i < p->n; i++) {
		const struct pmap *v = &p->maps[i];
		struct unwind_map *m;

		/* Recorded, but unmapped since: BPF must not see it. */
		if (!v->live)
			continue;
		if (proc.n == UNWIND_MAX_MAPS) {
			u->stats.maps_dropped++;
			break;
		}
		/*
		 * Every executable mapping is listed, with or without a table
		 * (JIT code, files without CFI: frame pointers), so that BPF
		 * asks for a re-read only for code mapped since.
		 */
		m = &proc.maps[proc.n++];
		*m = (struct unwind_map){ .start = v->start, .end = v->end };
		if (jit_file_id && !v->file && jit_mapping(v->path) && v->start >= jit_base &&
		    v->end - jit_base <= UINT32_MAX) {
			m->bias = jit_base;
			m->file_id = jit_file_id;
			continue;
		}
		pf = table_file(v);
		f = pf ? file_for(u, pf) : NULL;
		if (!f || !f->file_id || !mapping_bias(f, v, &bias))
			continue;
		rowspace__touch(u->space, f->id, u->tick);
		m->bias = bias;
		m->file_id = f->file_id;
	}
	proc.gen = (uint32_t)u->tick;
	if (bpf_map_update_elem(u->procs_fd, &pid, &proc, BPF_ANY) == 0)
		return 0;
	err = errno;
	if (err == E2BIG && sweep_dead(u)) {
		if (bpf_map_update_elem(u->procs_fd, &pid, &proc, BPF_ANY) == 0)
			return 0;
		err = errno;
	}
	if (err == E2BIG)
		u->stats.procs_full++;
	return -err;
}
