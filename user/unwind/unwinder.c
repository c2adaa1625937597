// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "bpfprof/types.h"
#include "util/log.h"
#include "proc/procs.h"
#include "unwind/space.h"
#include "unwind/table.h"
#include "unwind/unwinder.h"
#include "util/util.h"

#define UNWIND_PAGE_SHIFT 16 /* as in bpf/unwind.bpf.h */
#define MAX_SEGMENTS 8

struct segment {
	uint64_t offset, vaddr, filesz;
};

struct file {
	struct pfile *pf; /* NULL once the file table evicted it */
	uint32_t id;	  /* index + 1: its owner id in the row space */
	uint32_t file_id; /* 0: no table (none, or evicted) */
	bool evicted;	  /* had a table, lost it to a newer file */
	uint32_t first_page, last_page;
	struct segment segs[MAX_SEGMENTS];
	int nsegs;
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
	if (!u)
		return;
	filetab__on_release(proctab__files(u->procs), PFILE_UNWINDER, NULL, NULL);
	filetab__clear_priv(proctab__files(u->procs), PFILE_UNWINDER);
	munmap(u->rows, u->max_rows * sizeof(struct unwind_row));
	rowspace__free(u->space);
	free(u->files);
	free(u);
}

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *out)
{
	*out = u->stats;
	out->rows = rowspace__used(u->space);
	out->evictions = rowspace__evictions(u->space);
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

/* Publishes rows: the page index that lets BPF search a few rows only. */
static int load_pages(struct unwinder *u, uint32_t file_id, size_t base,
		      const struct unwind_table *t)
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
	err = load_pages(u, f->file_id, base, &t);
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
	if (u->nfiles == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		struct file *files = realloc(u->files, cap * sizeof(*files));

		if (!files) {
			close(fd);
			return NULL;
		}
		u->files = files;
		u->cap = cap;
	}
	f = &u->files[u->nfiles++];
	memset(f, 0, sizeof(*f));
	f->id = u->nfiles;
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

int unwinder__track_pid(struct unwinder *u, int pid)
{
	const struct pproc *p = proctab__find(u->procs, pid);
	struct unwind_proc proc = { 0 };
	struct pfile *pf;
	uint64_t bias;
	struct file *f;
	size_t i;
	int err;

	if (!p || p->exited)
		return -ESRCH;
	u->tick++;
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
