// SPDX-License-Identifier: Apache-2.0
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/dwarf_frames.h"
#include "symbolize/elf.h"
#include "elf/gopclntab.h"
#include "util/bsearch.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strpool.h"
#include "util/util.h"
#include "symbolize/plt.h"

/* libstdc++'s demangler (C++ and legacy Rust names); the build links -lstdc++. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

struct load_seg {
	uint64_t offset;
	uint64_t filesz;
	uint64_t vaddr;
};

/* One symbolized address: frames[first .. first + n) of the file's pool. */
struct addr_ent {
	uint64_t vaddr;
	uint32_t first;
	uint8_t n;
};

struct sym_file {
	struct symcache *cache;
	size_t idx;	 /* in the cache's list */
	void *owner;	 /* the caller's, for symcache__close_idle */
	int64_t used_ns; /* CLOCK_MONOTONIC of the last lookup */

	Dwfl *dwfl; /* one per file: each module sits at its own link-time addresses */
	Dwfl_Module *mod;
	Dwarf_Addr bias; /* module address = ELF vaddr + bias */
	char build_id[2 * 64 + 1];
	size_t file_size; /* libdw maps the file: its pages are shared, not copied */
	struct load_seg *segs;
	size_t nsegs;
	/*
	 * Looked up when first needed, at symbolization: reading the debug
	 * info (inflating compressed sections) is most of what opening a file
	 * costs, and it should not compete with a target during a capture.
	 */
	bool symbols_known, dwarf_known, go_known;
	bool has_symbols, has_dwarf;
	struct gopclntab *go; /* a Go binary's own table: names and lines without symbols */
	/*
	 * The symbol table sorted by address, built at the first lookup:
	 * libdw's dwfl_module_addrinfo scans every symbol per call, which
	 * made it most of the agent's CPU on a host of large binaries.
	 */
	struct sym_ent *syms;
	size_t nsyms;
	bool syms_built;

	/* Lookups repeat the same addresses: results are kept per vaddr. */
	struct addr_ent *ents;
	size_t ents_cap, nents;
	struct hashtab ents_tab;
	struct sym_frame *pool;
	size_t pool_cap, npool;
};

/* A function symbol: [addr, end) in the module's addresses (vaddr + bias). */
struct sym_ent {
	uint64_t addr, end;
	const char *name; /* in the ELF's string table: lives with dwfl */
};

struct symcache {
	struct sym_file **files; /* in no order: the file table finds them */
	size_t n, cap;
	uint64_t opened;
	struct strpool *strs;
};

/*
 * Separate debug files are found by build id under /usr/lib/debug/.build-id,
 * which is where Debian's -dbgsym and -dbg packages put them.
 */
static char *debuginfo_path;
static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

struct symcache *symcache__new(void)
{
	struct symcache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->strs = strpool__new();
	if (!c->strs) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	elf_version(EV_CURRENT);
	return c;
}

static void sym_file__free(struct sym_file *f)
{
	if (!f)
		return;
	gopclntab__free(f->go);
	if (f->dwfl)
		dwfl_end(f->dwfl);
	free(f->segs);
	free(f->syms);
	hashtab__fini(&f->ents_tab);
	free(f->ents);
	free(f->pool);
	free(f);
}

void symcache__free(struct symcache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		sym_file__free(c->files[i]);
	free(c->files);
	strpool__free(c->strs);
	free(c);
}

static int read_segments(struct sym_file *f)
{
	size_t phnum, i;
	GElf_Addr bias;
	Elf *elf;

	elf = dwfl_module_getelf(f->mod, &bias);
	if (!elf || elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	f->bias = bias;
	f->segs = calloc(phnum ? phnum : 1, sizeof(*f->segs));
	if (!f->segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		f->segs[f->nsegs++] = (struct load_seg){
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.vaddr = ph.p_vaddr,
		};
	}
	return 0;
}

static void read_build_id(struct sym_file *f)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len, i;

	len = dwfl_module_build_id(f->mod, &bits, &vaddr);
	for (i = 0; i < len && i < 64; i++) {
		f->build_id[2 * i] = hex[bits[i] >> 4];
		f->build_id[2 * i + 1] = hex[bits[i] & 0xf];
	}
	f->build_id[2 * (i > 0 ? i : 0)] = '\0';
}

/*
 * Everything that may need the file's path (debug files found next to it or
 * through it) happens here, while the process that maps it still exists.
 */
static int sym_file__load(struct sym_file *f, const char *path)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!fstat(fd, &st))
		f->file_size = st.st_size;
	f->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!f->dwfl) {
		close(fd);
		return -ENOMEM;
	}
	dwfl_report_begin(f->dwfl);
	/* base 0 with add_p_vaddr: the module sits at the ELF's own vaddrs. */
	f->mod = dwfl_report_elf(f->dwfl, path_base(path), path, fd, 0, true);
	if (!f->mod) {
		pr_debug("%s: %s\n", path, dwfl_errmsg(-1));
		close(fd); /* dwfl_report_elf consumes fd only on success */
		return -ENOEXEC;
	}
	dwfl_report_end(f->dwfl, NULL, NULL);

	err = read_segments(f);
	if (err)
		return err;
	read_build_id(f);
	return 0;
}

struct sym_file *symcache__open(struct symcache *c, const char *path)
{
	struct sym_file **files;
	struct sym_file *f;
	int err;

	files = array_grow(c->files, &c->cap, c->n, sizeof(*files), 64);
	if (!files) {
		err = -ENOMEM;
		goto fail;
	}
	c->files = files;
	f = calloc(1, sizeof(*f));
	if (!f) {
		err = -ENOMEM;
		goto fail;
	}
	f->cache = c;
	err = sym_file__load(f, path);
	if (err) {
		sym_file__free(f);
		goto fail;
	}
	f->idx = c->n;
	c->files[c->n++] = f;
	c->opened++;
	return f;
fail:
	pr_debug("cannot open %s: %s\n", path, strerror(-err));
	errno = -err;
	return NULL;
}

void sym_file__set_owner(struct sym_file *f, void *owner)
{
	f->owner = owner;
	f->used_ns = mono_ns();
}

void sym_file__touch(struct sym_file *f)
{
	f->used_ns = mono_ns();
}

size_t symcache__close_idle(struct symcache *c, int64_t before_ns,
			    void (*closed)(void *ctx, void *owner), void *ctx)
{
	size_t i = 0, n = 0;

	while (i < c->n) {
		struct sym_file *f = c->files[i];

		if (f->used_ns >= before_ns) {
			i++;
			continue;
		}
		closed(ctx, f->owner);
		symcache__close(c, f); /* the last one moves to i */
		n++;
	}
	return n;
}

size_t symcache__count(const struct symcache *c)
{
	return c->n;
}

void symcache__close(struct symcache *c, struct sym_file *f)
{
	c->files[f->idx] = c->files[--c->n];
	c->files[f->idx]->idx = f->idx;
	sym_file__free(f);
}

void symcache__stats(const struct symcache *c, struct symcache_stats *out)
{
	const struct sym_file *f;
	size_t i;

	*out = (struct symcache_stats){ .files = c->n, .opened = c->opened };
	for (i = 0; i < c->n; i++) {
		f = c->files[i];
		out->file_bytes += f->file_size;
		out->cache_bytes += sizeof(*f) + f->nsegs * sizeof(*f->segs) +
				    f->nsyms * sizeof(*f->syms) + f->ents_cap * sizeof(*f->ents) +
				    f->pool_cap * sizeof(*f->pool);
	}
}

const char *sym_file__build_id(const struct sym_file *f)
{
	return f->build_id;
}

/* A Go binary's .gopclntab, read when first asked for; NULL when it has none. */
static struct gopclntab *go_table(struct sym_file *f)
{
	GElf_Addr bias;
	Elf *elf;

	if (!f->go_known) {
		f->go_known = true;
		elf = dwfl_module_getelf(f->mod, &bias);
		f->go = elf ? gopclntab__new(elf) : NULL;
	}
	return f->go;
}

bool sym_file__has_symbols(struct sym_file *f)
{
	if (!f->symbols_known) {
		f->has_symbols = dwfl_module_getsymtab(f->mod) > 0 || go_table(f);
		f->symbols_known = true;
	}
	return f->has_symbols;
}

bool sym_file__has_lines(struct sym_file *f)
{
	return sym_file__has_dwarf(f) || go_table(f);
}

bool sym_file__has_dwarf(struct sym_file *f)
{
	Dwarf_Addr bias;

	if (!f->dwarf_known) {
		f->has_dwarf = dwfl_module_getdwarf(f->mod, &bias) != NULL;
		f->dwarf_known = true;
	}
	return f->has_dwarf;
}

int sym_file__offset_to_vaddr(const struct sym_file *f, uint64_t offset, uint64_t *vaddr)
{
	size_t i;

	for (i = 0; i < f->nsegs; i++) {
		const struct load_seg *s = &f->segs[i];

		if (offset >= s->offset && offset - s->offset < s->filesz) {
			*vaddr = offset - s->offset + s->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

static const char *intern(struct sym_file *f, const char *s)
{
	return s ? strpool__add(f->cache->strs, s) : NULL;
}

const char *sym_demangle(struct strpool *strs, const char *name)
{
	const char *out;
	char *d;
	int status;

	if (strncmp(name, "_Z", 2))
		return strpool__add(strs, name);
	d = __cxa_demangle(name, NULL, NULL, &status);
	if (!d)
		return strpool__add(strs, name);
	out = strpool__add(strs, d);
	free(d);
	return out;
}

/* Which of two symbols at one address names it: global, then weak, then sized. */
static int sym_rank(const GElf_Sym *sym)
{
	int bind = GELF_ST_BIND(sym->st_info);

	return (bind == STB_GLOBAL ? 4 : bind == STB_WEAK ? 2 : 0) + (sym->st_size > 0);
}

struct sym_tmp {
	struct sym_ent e;
	uint64_t sec_end; /* end of the symbol's section: bounds a sizeless one */
	int rank;
};

static int cmp_sym_tmp(const void *a, const void *b)
{
	const struct sym_tmp *x = a, *y = b;

	if (x->e.addr != y->e.addr)
		return x->e.addr < y->e.addr ? -1 : 1;
	return y->rank - x->rank; /* the best first */
}

static bool is_code_symbol(const GElf_Sym *sym, GElf_Word shndx)
{
	int type = GELF_ST_TYPE(sym->st_info);

	if (shndx == SHN_UNDEF || shndx == SHN_ABS || shndx >= SHN_LORESERVE)
		return false;
	return type == STT_FUNC || type == STT_GNU_IFUNC || type == STT_NOTYPE;
}

/*
 * Sorts f's function symbols (the .symtab, or .dynsym, and MiniDebugInfo's,
 * as libdw lists them) once; one entry per address, the best-ranked name.
 * A sizeless symbol reaches the next symbol or its section's end.
 */
static void build_syms(struct sym_file *f)
{
	struct sym_tmp *tmp;
	size_t i, n = 0;
	int count;

	f->syms_built = true;
	count = dwfl_module_getsymtab(f->mod);
	if (count <= 1)
		return;
	tmp = malloc(count * sizeof(*tmp));
	if (!tmp)
		return;
	for (i = 1; i < (size_t)count; i++) {
		GElf_Addr addr, bias;
		GElf_Word shndx;
		GElf_Shdr shdr;
		GElf_Sym sym;
		Elf_Scn *scn;
		Elf *elf;
		const char *name;

		name = dwfl_module_getsym_info(f->mod, i, &sym, &addr, &shndx, &elf, &bias);
		if (!name || !name[0] || !is_code_symbol(&sym, shndx))
			continue;
		scn = elf ? elf_getscn(elf, shndx) : NULL;
		tmp[n] = (struct sym_tmp){
			.e = { .addr = addr,
			       .end = sym.st_size ? addr + sym.st_size : 0,
			       .name = name },
			.sec_end = scn && gelf_getshdr(scn, &shdr)
					   ? shdr.sh_addr + bias + shdr.sh_size
					   : UINT64_MAX,
			.rank = sym_rank(&sym),
		};
		n++;
	}
	qsort(tmp, n, sizeof(*tmp), cmp_sym_tmp);
	f->syms = malloc((n ? n : 1) * sizeof(*f->syms));
	if (!f->syms) {
		free(tmp);
		return;
	}
	for (i = 0; i < n; i++) {
		struct sym_ent e;
		size_t next = i + 1;

		if (i > 0 && tmp[i].e.addr == tmp[i - 1].e.addr)
			continue; /* a lesser name for the same address */
		e = tmp[i].e;
		if (!e.end) {
			while (next < n && tmp[next].e.addr == e.addr)
				next++;
			e.end = next < n && tmp[next].e.addr < tmp[i].sec_end ? tmp[next].e.addr
									      : tmp[i].sec_end;
		}
		f->syms[f->nsyms++] = e;
	}
	free(tmp);
}

/* The symbol whose range holds addr (a module address), or NULL. */
static const struct sym_ent *find_sym(struct sym_file *f, uint64_t addr)
{
	size_t lo, i, back;

	if (!f->syms_built)
		build_syms(f);
	lo = bsearch_upper(f->syms, f->nsyms, addr, addr); /* the first symbol above addr */
	/* The nearest start below, else one that encloses it (nested symbols). */
	for (i = lo, back = 0; i > 0 && back < 8; i--, back++) {
		if (addr < f->syms[i - 1].end)
			return &f->syms[i - 1];
	}
	return NULL;
}

const char *sym_file__elf_symbol(struct sym_file *f, uint64_t vaddr)
{
	const struct sym_ent *sym = find_sym(f, vaddr + f->bias);

	return sym ? sym->name : NULL;
}

/* Without DWARF (or outside any CU): the ELF symbol table's name, no line. */
static int resolve_symtab(struct sym_file *f, uint64_t vaddr, struct sym_frame *out)
{
	const char *name = sym_file__elf_symbol(f, vaddr);

	if (!name)
		return 0;
	*out = (struct sym_frame){
		.system_name = intern(f, name),
		.function = sym_demangle(f->cache->strs, name),
	};
	return 1;
}

/*
 * A stripped Go binary: its runtime's own table names the function and the
 * line (inlined functions are not separate there: the frame is the one
 * they were inlined into, at the line of the inlined code).
 */
static int resolve_go(struct sym_file *f, uint64_t vaddr, struct sym_frame *out)
{
	struct gopclntab *t = go_table(f);
	struct gopclntab_pos pos;

	if (!t || !gopclntab__lookup(t, vaddr, &pos))
		return 0;
	*out = (struct sym_frame){
		.function = intern(f, pos.function),
		.system_name = intern(f, pos.function),
		.file = intern(f, pos.file),
		.line = pos.line,
		.start_line = pos.start_line,
	};
	return 1;
}

/* A PLT stub has no symbol: name it after the function it jumps to. */
static int resolve_plt(struct sym_file *f, uint64_t vaddr, struct sym_frame *out)
{
	char name[256];
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(f->mod, &bias);

	if (!elf || plt_name(elf, vaddr, name, sizeof(name)))
		return 0;
	*out = (struct sym_frame){ .function = intern(f, name), .system_name = intern(f, name) };
	return 1;
}

static int resolve(struct sym_file *f, uint64_t vaddr, struct sym_frame *out)
{
	int n = 0;

	if (sym_file__has_dwarf(f))
		n = resolve_dwarf(f->mod, vaddr + f->bias, f->cache->strs, out);
	/* A nameless DWARF function (asm, artificial code) still has its ELF symbol. */
	if (n > 0 && !out[n - 1].function) {
		struct sym_frame sym;

		if (resolve_symtab(f, vaddr, &sym)) {
			out[n - 1].function = sym.function;
			out[n - 1].system_name = sym.system_name;
		}
	}
	if (n == 0)
		n = resolve_go(f, vaddr, out);
	if (n == 0)
		n = resolve_symtab(f, vaddr, out);
	if (n == 0)
		n = resolve_plt(f, vaddr, out);
	return n;
}

static bool ent_eq(const void *ctx, size_t idx, const void *key)
{
	const struct sym_file *f = ctx;

	return f->ents[idx].vaddr == *(const uint64_t *)key;
}

static struct addr_ent *cache_find(struct sym_file *f, uint64_t vaddr)
{
	long idx = hashtab__find(&f->ents_tab, hash_u64(vaddr), ent_eq, f, &vaddr);

	return idx >= 0 ? &f->ents[idx] : NULL;
}

static int cache_add(struct sym_file *f, uint64_t vaddr, const struct sym_frame *frames, int n)
{
	struct addr_ent *ents = array_grow(f->ents, &f->ents_cap, f->nents, sizeof(*ents), 256);
	int err;

	if (!ents)
		return -ENOMEM;
	f->ents = ents;
	err = hashtab__reserve(&f->ents_tab, f->nents + 1);
	if (err)
		return err;
	if (f->npool + n > f->pool_cap) {
		size_t cap = f->pool_cap ? f->pool_cap * 2 : 256;
		struct sym_frame *pool;

		while (cap < f->npool + n)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -E2BIG;
		pool = realloc(f->pool, cap * sizeof(*pool));
		if (!pool)
			return -ENOMEM;
		f->pool = pool;
		f->pool_cap = cap;
	}
	if (n)
		memcpy(f->pool + f->npool, frames, n * sizeof(*frames));
	f->ents[f->nents] = (struct addr_ent){ .vaddr = vaddr, .first = f->npool, .n = n };
	hashtab__insert(&f->ents_tab, hash_u64(vaddr), f->nents); /* reserved: cannot fail */
	f->npool += n;
	f->nents++;
	return 0;
}

int sym_file__lookup(struct sym_file *f, uint64_t vaddr, struct sym_frame *frames, int max)
{
	struct sym_frame tmp[SYM_MAX_INLINE];
	const struct sym_frame *src = tmp;
	struct addr_ent *e;
	int n;

	e = cache_find(f, vaddr);
	if (e) {
		src = f->pool + e->first;
		n = e->n;
	} else {
		n = resolve(f, vaddr, tmp);
		/* Without memory for the cache the result is still good, just not kept. */
		cache_add(f, vaddr, tmp, n);
	}
	if (n > max)
		n = max > 0 ? max : 0;
	if (n)
		memcpy(frames, src, n * sizeof(*frames));
	return n;
}
