// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "symbolize/elf.h"
#include "symbolize/jit.h"
#include "symbolize/kernel.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strpool.h"
#include "util/util.h"
#include "proc/procs.h"
#include "symbolize/symbolize.h"

/* A lookup that misses reads a process's JIT files again at most this often. */
#define JIT_REREAD_NS 1000000000LL

/* What a process's runtime wrote about its generated code. */
struct jitproc {
	int pid;
	int nspid; /* the pid as the process sees it (its own pid namespace) */
	int64_t read_at;
	char map_name[40];     /* "/tmp/perf-NSPID.map", as the process sees it */
	const char *dump_name; /* the jitdump's path in the process, NULL: none found */
	struct perfmap pm;
	struct jitdump jd;
	struct jitmap *from_map, *from_dump;
	struct strpool *strs;  /* the names both hold: freed with the process */
	int map_err, dump_err; /* the last read's, to say it once */
};

struct symbolizer {
	struct proctab *procs; /* borrowed: the processes and files the capture tracks */
	struct symcache *cache;
	struct ksyms *ksyms;
	int ksyms_err; /* why kallsyms could not be loaded; 0 until tried */
	struct jitproc **jits;
	size_t njits, jits_cap;
	struct hashtab jit_by_pid;
	struct sym_jit_stats jit_stats;
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

/* A process's JIT state and every name it read. */
static void jitproc_free(struct jitproc *j)
{
	jitmap__free(j->from_map);
	jitmap__free(j->from_dump);
	jitdump__fini(&j->jd);
	strpool__free(j->strs);
	free(j);
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
	for (size_t i = 0; i < s->njits; i++)
		jitproc_free(s->jits[i]);
	free(s->jits);
	hashtab__fini(&s->jit_by_pid);
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

/* The frame of an address its file has no symbol for: "libfoo.so+0x1f2a". */
static void module_offset(struct sym_loc *out, uint64_t file_offset)
{
	const char *base = path_base(out->map_file);

	snprintf(out->module_offset, sizeof(out->module_offset), "%.64s+0x%" PRIx64, base,
		 file_offset);
	out->frames[0] = (struct sym_frame){ .function = out->module_offset,
					     .system_name = out->module_offset };
	out->nframes = 1;
}

static bool jit_pid_eq(const void *ctx, size_t idx, const void *key)
{
	const struct symbolizer *s = ctx;

	return s->jits[idx]->pid == *(const int *)key;
}

/* The pid of pid in its own pid namespace: the last NSpid field of its status. */
static int ns_pid(const char *procfs, int pid)
{
	char path[PATH_MAX], line[256], *p, *end;
	long v, last = pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/status", procfs, pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		for (p = line + 6;; p = end) {
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			if (v > 0 && v <= INT_MAX)
				last = v;
		}
		break;
	}
	fclose(f);
	return (int)last;
}

static struct jitproc *jitproc_get(struct symbolizer *s, int pid)
{
	uint64_t h = hash_u64((uint32_t)pid);
	long i = hashtab__find(&s->jit_by_pid, h, jit_pid_eq, s, &pid);
	struct jitproc **a, *j;

	if (i >= 0)
		return s->jits[i];
	a = array_grow(s->jits, &s->jits_cap, s->njits, sizeof(*a), 16);
	if (!a)
		return NULL;
	s->jits = a;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->pid = pid;
	j->nspid = ns_pid(proctab__procfs(s->procs), pid);
	snprintf(j->map_name, sizeof(j->map_name), "/tmp/perf-%d.map", j->nspid);
	j->strs = strpool__new();
	j->from_map = j->strs ? jitmap__new(j->strs) : NULL;
	j->from_dump = j->strs ? jitmap__new(j->strs) : NULL;
	if (!j->from_map || !j->from_dump || hashtab__insert(&s->jit_by_pid, h, s->njits)) {
		jitproc_free(j);
		return NULL;
	}
	s->jits[s->njits++] = j;
	return j;
}

/* Whether p maps code a runtime may have generated. */
static bool has_jit_code(const struct pproc *p)
{
	size_t i;

	for (i = 0; p && i < p->n; i++)
		if (p->maps[i].live && jit_mapping(p->maps[i].path))
			return true;
	return false;
}

/* CPU time of this thread in ns: what reading costs, apart from waiting for a CPU. */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads what is new in the perf map and jitdump of j's process. */
static void jit_read(struct symbolizer *s, struct jitproc *j, const struct pproc *p)
{
	const char *procfs = proctab__procfs(s->procs);
	int64_t t0 = thread_cpu_ns();
	char path[PATH_MAX];
	uint64_t before;
	size_t i;
	int err;

	j->read_at = mono_ns();
	s->jit_stats.reads++;
	for (i = 0; p && !j->dump_name && i < p->n; i++)
		if (jit_dump_path(p->maps[i].path))
			j->dump_name = p->maps[i].path;
	snprintf(path, sizeof(path), "%s/%d/root", procfs, j->pid);
	before = j->pm.bytes_read;
	err = perfmap__read_in(&j->pm, path, j->map_name, j->from_map);
	s->jit_stats.map_bytes += j->pm.bytes_read - before;
	if (err && err != -ENOENT && err != j->map_err)
		pr_warn("pid %d: cannot read %s: %s\n", j->pid, j->map_name, strerror(-err));
	j->map_err = err;
	if (!j->dump_name) {
		s->jit_stats.read_ns += thread_cpu_ns() - t0;
		return;
	}
	err = jitdump__read_in(&j->jd, path, j->dump_name, j->from_dump);
	if (err && err != -ENOENT && err != j->dump_err)
		pr_warn("pid %d: cannot read %s: %s\n", j->pid, j->dump_name, strerror(-err));
	j->dump_err = err;
	s->jit_stats.read_ns += thread_cpu_ns() - t0;
}

void symbolizer__jit_refresh(struct symbolizer *s, int pid)
{
	const struct pproc *p = proctab__find(s->procs, pid);
	struct jitproc *j;

	if (!p || p->exited || !has_jit_code(p))
		return;
	j = jitproc_get(s, pid);
	if (j)
		jit_read(s, j, p);
}

size_t symbolizer__jit_forget_gone(struct symbolizer *s)
{
	size_t i, n = 0, gone = 0;

	for (i = 0; i < s->njits; i++) {
		struct jitproc *j = s->jits[i];

		if (proctab__find(s->procs, j->pid)) {
			s->jits[n++] = j;
			continue;
		}
		jitproc_free(j);
		gone++;
	}
	s->njits = n;
	if (!gone)
		return 0;
	/* Indexes moved: the pid index again (it cannot fail: it held more). */
	hashtab__fini(&s->jit_by_pid);
	if (hashtab__reserve(&s->jit_by_pid, n) == 0)
		for (i = 0; i < n; i++)
			hashtab__insert(&s->jit_by_pid, hash_u64((uint32_t)s->jits[i]->pid), i);
	return gone;
}

const struct sym_jit_stats *symbolizer__jit_stats(struct symbolizer *s)
{
	size_t i;

	s->jit_stats.procs = s->njits;
	s->jit_stats.map_entries = s->jit_stats.dump_entries = s->jit_stats.bytes = 0;
	for (i = 0; i < s->njits; i++) {
		s->jit_stats.map_entries += jitmap__count(s->jits[i]->from_map);
		s->jit_stats.dump_entries += jitmap__count(s->jits[i]->from_dump);
		s->jit_stats.bytes += jitmap__bytes(s->jits[i]->from_map) +
				      jitmap__bytes(s->jits[i]->from_dump) +
				      strpool__bytes(s->jits[i]->strs) + sizeof(*s->jits[i]);
	}
	return &s->jit_stats;
}

/* Names addr from the runtime's files: true when found. */
static bool jit_lookup(struct symbolizer *s, int pid, uint64_t addr, struct sym_loc *out)
{
	const struct pproc *p = proctab__find(s->procs, pid);
	struct jitproc *j = jitproc_get(s, pid);
	const struct jit_line *line = NULL;
	const struct jit_sym *sym;
	const char *name;

	if (!j)
		return false;
	if (!j->read_at)
		jit_read(s, j, p);
	for (;;) {
		name = j->dump_name;
		sym = jitmap__find(j->from_dump, addr);
		if (!sym) {
			name = j->map_name;
			sym = jitmap__find(j->from_map, addr);
		}
		if (sym || !p || p->exited || mono_ns() - j->read_at < JIT_REREAD_NS)
			break;
		s->jit_stats.miss_reads++;
		jit_read(s, j, p);
	}
	if (!sym)
		return false;
	line = jit_sym__line(sym, addr);
	out->map_file = name;
	out->has_functions = true;
	out->has_lines = line != NULL;
	out->frames[0] = (struct sym_frame){
		.function = sym->name,
		.system_name = sym->name,
		.file = line ? line->file : NULL,
		.line = line ? line->line : 0,
	};
	out->nframes = 1;
	return true;
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
	if (jit_mapping(m->path) && jit_lookup(s, pid, addr, out))
		return 0;
	/* Anonymous and JIT code: a mapping without symbols is still an answer. */
	if (!m->path[0])
		return 0;
	f = m->file ? elf_of(s, m->file) : NULL;
	if (!f) {
		module_offset(out, addr - m->start + m->offset);
		return 0;
	}
	out->build_id = sym_file__build_id(f);
	out->has_functions = sym_file__has_symbols(f);
	out->has_lines = sym_file__has_lines(f);
	out->has_inlines = sym_file__has_dwarf(f);
	if (!sym_file__offset_to_vaddr(f, addr - m->start + m->offset, &vaddr))
		out->nframes = sym_file__lookup(f, vaddr, out->frames, SYM_MAX_INLINE);
	if (out->nframes <= 0)
		module_offset(out, addr - m->start + m->offset);
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
