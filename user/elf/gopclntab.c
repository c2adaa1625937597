// SPDX-License-Identifier: Apache-2.0
/*
 * The layout read here is Go's runtime.pcHeader and runtime._func (Go 1.18:
 * magic 0xfffffff0; Go 1.20 added the function's start line: 0xfffffff1),
 * as documented in Go's src/runtime/symtab.go and read by debug/gosym.
 * Every offset comes from the file: each is checked against its table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "elf/section.h"
#include "elf/gopclntab.h"

#define GO118_MAGIC 0xfffffff0u
#define GO120_MAGIC 0xfffffff1u

/* pcHeader fields (8-byte words after the first 8 bytes). */
enum { HDR_NFUNC, HDR_NFILES, HDR_TEXT, HDR_FUNCNAME, HDR_CU, HDR_FILE, HDR_PC, HDR_FUNC, HDR_N };

/* _func fields, 4 bytes each. */
enum { F_ENTRY, F_NAME, F_ARGS, F_DEFERRETURN, F_PCSP, F_PCFILE, F_PCLN, F_NPCDATA, F_CU, F_START };

struct span {
	const uint8_t *p;
	size_t n;
};

struct gopclntab {
	struct span funcnames, cu, files, pcs,
		funcs; /* funcs: the functab and the _funcs after it */
	uint64_t text; /* ELF address of the text, entries' base */
	uint32_t nfunc;
	bool start_lines; /* Go 1.20+ */
};

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The part of the table from off to the end, or an empty span when off is outside. */
static struct span tail(const uint8_t *p, size_t n, uint64_t off)
{
	if (off >= n)
		return (struct span){ NULL, 0 };
	return (struct span){ p + off, n - off };
}

/*
 * Where the text starts: the header holds it too, but unrelocated in a
 * position-independent binary (0 on disk), so the section address it is.
 */
static int text_start(Elf *elf, uint64_t *text)
{
	GElf_Shdr sh;

	if (!elf_section_by_name(elf, ".text", &sh))
		return -ENOENT;
	*text = sh.sh_addr;
	return 0;
}

static Elf_Data *table_data(Elf *elf)
{
	/* Position-independent builds put it in RELRO, named after that. */
	static const char *const names[] = { ".gopclntab", ".data.rel.ro.gopclntab" };
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]) && !scn; i++)
		scn = elf_section_by_name(elf, names[i], &sh);
	return scn ? elf_getdata(scn, NULL) : NULL;
}

struct gopclntab *gopclntab__from_data(const void *data, size_t size, uint64_t text)
{
	const uint8_t *p = data;
	struct gopclntab *t;
	uint64_t h[HDR_N];
	uint32_t magic;
	int i;

	if (!p || size < 8 + 8 * HDR_N) {
		errno = ENOENT;
		return NULL;
	}
	magic = get32(p);
	/* Padding 0, 0; the pc quantum is 1 and pointers are 8 bytes on x86-64. */
	if ((magic != GO118_MAGIC && magic != GO120_MAGIC) || p[4] || p[5] || p[6] != 1 ||
	    p[7] != 8) {
		errno = ENOENT;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	for (i = 0; i < HDR_N; i++)
		h[i] = get64(p + 8 + 8 * i);
	t->start_lines = magic == GO120_MAGIC;
	t->funcnames = tail(p, size, h[HDR_FUNCNAME]);
	t->cu = tail(p, size, h[HDR_CU]);
	t->files = tail(p, size, h[HDR_FILE]);
	t->pcs = tail(p, size, h[HDR_PC]);
	t->funcs = tail(p, size, h[HDR_FUNC]);
	t->nfunc = h[HDR_NFUNC];
	t->text = text;
	/* nfunc + 1 entries of (entry offset, _func offset). */
	if (h[HDR_NFUNC] >= UINT32_MAX || !t->funcs.p || t->funcs.n / 8 < h[HDR_NFUNC] + 1 ||
	    !t->funcnames.p) {
		free(t);
		errno = EINVAL;
		return NULL;
	}
	return t;
}

struct gopclntab *gopclntab__new(Elf *elf)
{
	Elf_Data *d = table_data(elf);
	uint64_t text;

	if (!d || text_start(elf, &text)) {
		errno = ENOENT;
		return NULL;
	}
	return gopclntab__from_data(d->d_buf, d->d_size, text);
}

void gopclntab__free(struct gopclntab *t)
{
	free(t);
}

/* A NUL-terminated string at off in s, or NULL. */
static const char *string_at(struct span s, uint64_t off)
{
	if (off >= s.n || !memchr(s.p + off, '\0', s.n - off))
		return NULL;
	return (const char *)s.p + off;
}

static bool varint(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
	uint32_t v = 0;
	int shift;

	for (shift = 0; *p < end && shift < 35; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* A pc-value table: pairs of (value delta, zigzag encoded; pc delta), from -1 at the entry. */
struct pc_iter {
	const uint8_t *p, *end;
	uint64_t entry, pc; /* the range [pc before the step, pc) has value */
	int32_t value;
};

static bool pc_iter_init(const struct gopclntab *t, uint32_t off, uint64_t entry,
			 struct pc_iter *it)
{
	if (!off || off >= t->pcs.n)
		return false;
	*it = (struct pc_iter){ .p = t->pcs.p + off,
				.end = t->pcs.p + t->pcs.n,
				.entry = entry,
				.pc = entry,
				.value = -1 };
	return true;
}

/* The next range: its value holds up to it->pc.  False at the end of the table. */
static bool pc_iter_next(struct pc_iter *it)
{
	uint32_t uv, pcdelta;

	if (!varint(&it->p, it->end, &uv))
		return false;
	/* A zero delta ends the table, except while still at the entry. */
	if (!uv && it->pc != it->entry)
		return false;
	if (!varint(&it->p, it->end, &pcdelta))
		return false;
	/* Zigzag decoded, added as Go adds int32s: wrapping (a crafted table may overflow). */
	it->value = (int32_t)((uint32_t)it->value + ((uv & 1) ? ~(uv >> 1) : uv >> 1));
	it->pc += pcdelta;
	return true;
}

/* The value the table at off gives pc, in the function at entry. */
static bool pc_value(const struct gopclntab *t, uint32_t off, uint64_t entry, uint64_t pc,
		     int32_t *value)
{
	struct pc_iter it;

	if (!pc_iter_init(t, off, entry, &it))
		return false;
	while (pc_iter_next(&it))
		if (pc < it.pc) {
			*value = it.value;
			return true;
		}
	return false;
}

/* The _func of function i, if it lies whole in the table. */
static const uint8_t *func_at(const struct gopclntab *t, uint32_t i, uint64_t *entry)
{
	uint32_t off = get32(t->funcs.p + 8 * (uint64_t)i + 4);
	size_t need = 4 * (F_START + (t->start_lines ? 1 : 0));

	if (off >= t->funcs.n || t->funcs.n - off < need)
		return NULL;
	*entry = t->text + get32(t->funcs.p + 8 * (uint64_t)i);
	return t->funcs.p + off;
}

static const char *file_of(const struct gopclntab *t, const uint8_t *f, uint64_t entry, uint64_t pc)
{
	uint64_t slot;
	int32_t index;
	uint32_t off;

	if (!pc_value(t, get32(f + 4 * F_PCFILE), entry, pc, &index) || index < 0)
		return NULL;
	slot = 4 * ((uint64_t)get32(f + 4 * F_CU) + (uint32_t)index);
	if (slot + 4 > t->cu.n)
		return NULL;
	off = get32(t->cu.p + slot);
	return off == UINT32_MAX ? NULL : string_at(t->files, off);
}

bool gopclntab__lookup(const struct gopclntab *t, uint64_t pc, struct gopclntab_pos *out)
{
	uint32_t lo = 0, hi = t->nfunc, mid;
	uint64_t off, entry;
	const uint8_t *f;
	int32_t line;

	memset(out, 0, sizeof(*out));
	if (pc < t->text)
		return false;
	off = pc - t->text;
	/* The last function whose entry is at or below pc; entry nfunc is the end. */
	if (off >= get32(t->funcs.p + 8 * (uint64_t)t->nfunc) || off < get32(t->funcs.p))
		return false;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (get32(t->funcs.p + 8 * (uint64_t)mid) <= off)
			lo = mid;
		else
			hi = mid;
	}
	f = func_at(t, lo, &entry);
	if (!f)
		return false;
	out->function = string_at(t->funcnames, get32(f + 4 * F_NAME));
	if (!out->function)
		return false;
	out->file = file_of(t, f, entry, pc);
	if (pc_value(t, get32(f + 4 * F_PCLN), entry, pc, &line) && line > 0)
		out->line = line;
	if (t->start_lines && (int32_t)get32(f + 4 * F_START) > 0)
		out->start_line = (int32_t)get32(f + 4 * F_START);
	return true;
}

size_t gopclntab__sp_ranges(const struct gopclntab *t, gopclntab_sp_fn fn, void *ctx)
{
	uint64_t entry, end, start;
	const uint8_t *f;
	struct pc_iter it;
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < t->nfunc; i++) {
		f = func_at(t, i, &entry);
		end = t->text + get32(t->funcs.p + 8 * ((uint64_t)i + 1));
		if (!f || end <= entry || !pc_iter_init(t, get32(f + 4 * F_PCSP), entry, &it))
			continue;
		n++;
		for (start = entry; pc_iter_next(&it) && start < end; start = it.pc)
			fn(ctx, entry, end, start, it.pc < end ? it.pc : end, it.value);
	}
	return n;
}
