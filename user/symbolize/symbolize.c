// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/elf.h"
#include "symbolize/kernel.h"
#include "util/log.h"
#include "proc/procs.h"
#include "symbolize/symbolize.h"

struct symbolizer {
	struct proctab *procs; /* borrowed: the processes and files the capture tracks */
	struct symcache *cache;
	struct ksyms *ksyms;
	int ksyms_err; /* why kallsyms could not be loaded; 0 until tried */
};

void symbolizer__stats(const struct symbolizer *s, struct symcache_stats *out)
{
	symcache__stats(s->cache, out);
}

/* A file that is not a readable ELF: remembered, not tried again. */
static char not_elf;

/* The file table evicts f: its ELF goes too. */
static void release_file(void *ctx, struct pfile *f)
{
	struct symbolizer *s = ctx;

	if (f->priv[PFILE_SYMBOLIZER] != &not_elf)
		symcache__close(s->cache, f->priv[PFILE_SYMBOLIZER]);
	f->priv[PFILE_SYMBOLIZER] = NULL;
}

struct symbolizer *symbolizer__new(struct proctab *procs)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->procs = procs;
	s->cache = symcache__new();
	if (!s->cache) {
		symbolizer__free(s);
		errno = ENOMEM;
		return NULL;
	}
	filetab__on_release(proctab__files(procs), PFILE_SYMBOLIZER, release_file, s);
	return s;
}

void symbolizer__free(struct symbolizer *s)
{
	struct filetab *files;

	if (!s)
		return;
	/* The table outlives the symbolizer: its files must not call back. */
	files = proctab__files(s->procs);
	filetab__on_release(files, PFILE_SYMBOLIZER, NULL, NULL);
	filetab__clear_priv(files, PFILE_SYMBOLIZER);
	ksyms__free(s->ksyms);
	symcache__free(s->cache);
	free(s);
}

/*
 * The ELF of a mapped file, opened when first symbolized: through the file
 * table's descriptor, so it works after the process is gone.
 */
static struct sym_file *elf_of(struct symbolizer *s, struct pfile *pf)
{
	struct sym_file *f = pf->priv[PFILE_SYMBOLIZER];
	char path[64];

	if (f) {
		if ((void *)f == &not_elf)
			return NULL;
		sym_file__touch(f);
		return f;
	}
	pfile__path(pf, path, sizeof(path));
	f = symcache__open(s->cache, path);
	if (f) {
		sym_file__set_owner(f, pf);
		pr_debug("symbol table of %s opened (build id %s)\n", pf->name,
			 pf->build_id[0] ? pf->build_id : "none");
	} else {
		pr_debug("%s: no symbols: %s\n", pf->name, strerror(errno));
	}
	pf->priv[PFILE_SYMBOLIZER] = f ? (void *)f : &not_elf;
	return f;
}

static void file_closed(void *ctx, void *owner)
{
	struct pfile *pf = owner;

	(void)ctx;
	pf->priv[PFILE_SYMBOLIZER] = NULL;
}

size_t symbolizer__close_idle(struct symbolizer *s, int64_t before_ns)
{
	return symcache__close_idle(s->cache, before_ns, file_closed, s);
}

size_t symbolizer__open_files(const struct symbolizer *s)
{
	return symcache__count(s->cache);
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
	const struct pmap *m = pproc__find(proctab__find(s->procs, pid), addr);
	struct sym_file *f;
	uint64_t vaddr;

	loc_reset(out);
	if (!m)
		return -ENOENT;
	out->map_start = m->start;
	out->map_end = m->end;
	out->map_offset = m->offset;
	out->map_file = m->path;
	/* Anonymous and JIT code: a mapping without symbols is still an answer. */
	f = m->file ? elf_of(s, m->file) : NULL;
	if (!f)
		return 0;
	out->build_id = sym_file__build_id(f);
	out->has_functions = sym_file__has_symbols(f);
	out->has_lines = sym_file__has_lines(f);
	out->has_inlines = sym_file__has_dwarf(f);
	if (sym_file__offset_to_vaddr(f, addr - m->start + m->offset, &vaddr))
		return 0;
	out->nframes = sym_file__lookup(f, vaddr, out->frames, SYM_MAX_INLINE);
	return 0;
}

static int load_ksyms(struct symbolizer *s)
{
	char path[PATH_MAX];

	if (s->ksyms || s->ksyms_err)
		return s->ksyms_err;
	snprintf(path, sizeof(path), "%s/kallsyms", proctab__procfs(s->procs));
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
