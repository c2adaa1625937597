// SPDX-License-Identifier: Apache-2.0
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>

#include "elf/section.h"
#include "elf/gopclntab.h"

#include "util/bsearch.h"
#include "util/log.h"
#include "unwind/table.h"

/* x86-64 DWARF register numbers. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

struct builder {
	struct unwind_table *t;
	size_t cap;
	size_t fn_first; /* the current function's first row */
	uint64_t bias;	 /* subtracted from each pc: rows of generated code are relative */
	int err;
};

static bool same_rule(const struct unwind_row *a, const struct unwind_row *b)
{
	return a->cfa == b->cfa && a->cfa_off == b->cfa_off && a->rbp_off == b->rbp_off;
}

/*
 * Appends the rule that holds from pc on.  Rows merge only within the
 * current function: functions may come in any order (.debug_frame, or two
 * sections), and normalize() merges across them once the rows are sorted.
 */
static void add_row(struct builder *b, uint64_t pc, struct unwind_row row)
{
	struct unwind_row *last = b->t->n > b->fn_first ? &b->t->rows[b->t->n - 1] : NULL;

	if (b->err || pc < b->bias || pc - b->bias > UINT32_MAX)
		return;
	row.pc = pc - b->bias;
	if (last && last->pc == row.pc) {
		*last = row;
		return;
	}
	if (last && same_rule(last, &row))
		return; /* the previous row covers it */
	if (b->t->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct unwind_row *rows = realloc(b->t->rows, cap * sizeof(*rows));

		if (!rows) {
			b->err = -ENOMEM;
			return;
		}
		b->t->rows = rows;
		b->cap = cap;
	}
	b->t->rows[b->t->n++] = row;
}

/* Whether ops compute CFA + off (a register saved at an offset from the CFA). */
static bool cfa_relative(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (nops == 1) {
		*off = 0;
		return true;
	}
	if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	if (nops == 3 && ops[2].atom == DW_OP_plus) {
		if (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_const1s ||
		    ops[1].atom == DW_OP_const2s || ops[1].atom == DW_OP_const4s ||
		    ops[1].atom == DW_OP_const8s || ops[1].atom == DW_OP_constu) {
			*off = (int64_t)ops[1].number;
			return true;
		}
		if (ops[1].atom >= DW_OP_lit0 && ops[1].atom <= DW_OP_lit31) {
			*off = ops[1].atom - DW_OP_lit0;
			return true;
		}
	}
	return false;
}

/* The rule of one frame state as a compact row. */
static struct unwind_row frame_row(Dwarf_Frame *frame, struct unwind_table *t)
{
	struct unwind_row row = { .cfa = UNWIND_NONE };
	Dwarf_Op mem[3], *ops;
	size_t nops;
	int64_t off, reg;

	if (dwarf_frame_register(frame, REG_RA, mem, &ops, &nops) == 0 && nops == 0 && ops == mem) {
		row.cfa = UNWIND_END; /* return address undefined: the outermost frame */
		return row;
	}
	if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops == 0)
		goto unsupported;
	if (nops == 1 && ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		reg = ops[0].atom - DW_OP_breg0;
		off = (int64_t)ops[0].number;
	} else if (nops == 1 && ops[0].atom == DW_OP_bregx) {
		reg = ops[0].number;
		off = (int64_t)ops[0].number2;
	} else if (nops >= 5 && ops[0].atom == DW_OP_breg7 && ops[1].atom == DW_OP_breg16) {
		/* The PLT's expression: rsp + 8, + 8 more past the push of a lazy stub. */
		row.cfa = UNWIND_PLT;
		return row;
	} else {
		goto unsupported;
	}
	if ((reg != REG_RSP && reg != REG_RBP) || off < INT16_MIN || off > INT16_MAX)
		goto unsupported;
	row.cfa = reg == REG_RSP ? UNWIND_RSP : UNWIND_RBP;
	row.cfa_off = off;

	if (dwarf_frame_register(frame, REG_RBP, mem, &ops, &nops) == 0 && nops > 0 &&
	    cfa_relative(ops, nops, &off) && off % 8 == 0 && off / 8 >= INT8_MIN &&
	    off / 8 <= INT8_MAX && off != 0)
		row.rbp_off = off / 8;
	return row;
unsupported:
	t->nunsupported++;
	row.cfa = UNWIND_NONE;
	return row;
}

/* Rows for the function described by the FDE covering [start, end). */
static void add_function(struct builder *b, Dwarf_CFI *cfi, uint64_t start, uint64_t end)
{
	uint64_t pc = start, lo, hi;
	Dwarf_Frame *frame;
	bool signal;

	b->t->nfdes++;
	b->fn_first = b->t->n;
	while (pc < end && !b->err) {
		if (dwarf_cfi_addrframe(cfi, pc, &frame) != 0)
			break;
		if (dwarf_frame_info(frame, &lo, &hi, &signal) < 0 || hi <= pc) {
			free(frame);
			break;
		}
		add_row(b, pc, frame_row(frame, b->t));
		free(frame);
		pc = hi;
	}
	/* Past the function (where its CFI stopped), until the next one: no CFI. */
	if (pc > start)
		add_row(b, pc, (struct unwind_row){ .cfa = UNWIND_NONE });
}

/* Reads one value encoded as DW_EH_PE_* (only the encodings linkers emit). */
static bool read_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t pcrel_base,
			 uint64_t datarel_base, uint64_t *out)
{
	int64_t v;
	size_t size;

	switch (enc & 0x0f) {
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		size = 4;
		break;
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
	case DW_EH_PE_absptr:
		size = 8;
		break;
	default:
		return false;
	}
	if ((size_t)(end - *p) < size)
		return false;
	if (size == 4) {
		int32_t s;
		uint32_t u;

		memcpy(&s, *p, 4);
		memcpy(&u, *p, 4);
		v = (enc & 0x0f) == DW_EH_PE_sdata4 ? s : (int64_t)u;
	} else {
		memcpy(&v, *p, 8);
	}
	*p += size;
	switch (enc & 0x70) {
	case DW_EH_PE_absptr:
		break;
	case DW_EH_PE_pcrel:
		v += pcrel_base;
		break;
	case DW_EH_PE_datarel:
		v += datarel_base;
		break;
	default:
		return false;
	}
	*out = v;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * FDE start addresses from .eh_frame_hdr's sorted search table; each
 * function ends where libdw's CFI says, or at the next start.
 */
static int from_eh_frame(struct builder *b, Elf *elf)
{
	GElf_Shdr hdr_shdr;
	Elf_Scn *scn = elf_section_by_name(elf, ".eh_frame_hdr", &hdr_shdr);
	const uint8_t *p, *end;
	uint64_t eh_frame, count, *starts, fde, i;
	Elf_Data *data;
	Dwarf_CFI *cfi;
	uint8_t enc_ptr, enc_count, enc_table;

	if (!scn || !(data = elf_getdata(scn, NULL)) || data->d_size < 4)
		return -ENOENT;
	p = data->d_buf;
	end = p + data->d_size;
	if (p[0] != 1)
		return -ENOTSUP;
	enc_ptr = p[1];
	enc_count = p[2];
	enc_table = p[3];
	p += 4;
	if (!read_encoded(&p, end, enc_ptr, hdr_shdr.sh_addr + 4, hdr_shdr.sh_addr, &eh_frame) ||
	    !read_encoded(&p, end, enc_count, 0, hdr_shdr.sh_addr, &count) || count > 10000000)
		return -ENOTSUP;
	starts = malloc((count + 1) * sizeof(*starts));
	if (!starts)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		if (!read_encoded(&p, end, enc_table, 0, hdr_shdr.sh_addr, &starts[i]) ||
		    !read_encoded(&p, end, enc_table, 0, hdr_shdr.sh_addr, &fde)) {
			free(starts);
			return -ENOTSUP;
		}
	}
	qsort(starts, count, sizeof(*starts), cmp_u64);
	starts[count] = UINT64_MAX;
	cfi = dwarf_getcfi_elf(elf);
	if (!cfi) {
		free(starts);
		return -ENOENT;
	}
	for (i = 0; i < count && !b->err; i++)
		add_function(b, cfi, starts[i], starts[i + 1]);
	dwarf_cfi_end(cfi);
	free(starts);
	return b->err;
}

/*
 * Whether an .eh_frame rule covers pc: the rows [0, n) are sorted, and each
 * function's rows end with one of "no CFI".
 */
static bool covered(const struct unwind_table *t, size_t n, uint64_t pc)
{
	struct unwind_table eh = { .rows = t->rows, .n = n };
	const struct unwind_row *r;

	if (pc > UINT32_MAX)
		return false;
	r = unwind_table__find(&eh, pc);
	return r && r->cfa != UNWIND_NONE;
}

/*
 * The .debug_frame section, or GNU's compressed ".zdebug_frame".  Go
 * compresses its DWARF: as ".zdebug_*" since Go 1.11, with SHF_COMPRESSED
 * in the Go 1.19 here; objcopy makes either.
 */
static Elf_Scn *debug_frame_section(Elf *elf, GElf_Shdr *shdr, bool *gnu)
{
	Elf_Scn *scn = elf_section_by_name(elf, ".debug_frame", shdr);

	*gnu = !scn;
	return scn ? scn : elf_section_by_name(elf, ".zdebug_frame", shdr);
}

/*
 * The .debug_frame section, uncompressed.  libdw decompresses it in place
 * when it opens the file; this is only a fallback for a section it skipped.
 */
static Elf_Data *debug_frame_data(Elf *elf)
{
	GElf_Shdr shdr;
	bool gnu;
	Elf_Scn *scn = debug_frame_section(elf, &shdr, &gnu);

	if (!scn)
		return NULL;
	if ((shdr.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
		return NULL;
	if (gnu) {
		Elf_Data *raw = elf_getdata(scn, NULL);

		if (raw && raw->d_size >= 4 && !memcmp(raw->d_buf, "ZLIB", 4) &&
		    elf_compress_gnu(scn, 0, 0) < 0)
			return NULL;
	}
	return elf_getdata(scn, NULL);
}

/*
 * .debug_frame: Go's CFI (the Go linker writes no .eh_frame), also code
 * built with -fno-asynchronous-unwind-tables -g.  FDEs hold absolute 8-byte
 * addresses.  A Go binary linked with cgo has both sections: .eh_frame for
 * the C code, .debug_frame for the Go code; the first neh rows are those of
 * .eh_frame, which wins where both describe a function.
 */
static int from_debug_frame(struct builder *b, Elf *elf, size_t neh)
{
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	Dwarf_Off off = 0, next;
	Dwarf_CFI_Entry entry;
	uint64_t start, len;
	Elf_Data *data;
	Dwarf_CFI *cfi;
	GElf_Shdr shdr;
	Dwarf *dw;
	bool gnu;

	/* libdw decompresses every DWARF section it opens: only when there is CFI. */
	if (!ident || !debug_frame_section(elf, &shdr, &gnu))
		return -ENOENT;
	/* Opened first: libdw decompresses the section in place, once. */
	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	cfi = dw ? dwarf_getcfi(dw) : NULL;
	data = cfi ? debug_frame_data(elf) : NULL;
	if (!data) {
		if (dw)
			dwarf_end(dw);
		return -ENOENT;
	}
	while (!b->err && dwarf_next_cfi(ident, data, false, off, &next, &entry) == 0) {
		off = next;
		if (entry.CIE_id == LIBDW_CIE_ID || entry.fde.end - entry.fde.start < 16)
			continue;
		memcpy(&start, entry.fde.start, 8);
		memcpy(&len, entry.fde.start + 8, 8);
		if (len == 0 || covered(b->t, neh, start))
			continue;
		add_function(b, cfi, start, start + len);
	}
	dwarf_end(dw);
	return b->err;
}

struct go_builder {
	struct builder *b;
	size_t ncovered; /* rows from CFI before these: a function they describe is theirs */
	bool skip;	 /* the current function has CFI */
};

/* One range of a Go function's frame: the CFA is sp + delta + 8, the return address below it. */
static void go_range(void *ctx, uint64_t fn_start, uint64_t fn_end, uint64_t start, uint64_t end,
		     int32_t delta)
{
	struct go_builder *g = ctx;
	struct builder *b = g->b;
	int64_t off = (int64_t)delta + 8;

	if (start == fn_start) {
		g->skip = covered(b->t, g->ncovered, fn_start);
		if (g->skip)
			return;
		b->t->nfdes++;
		b->fn_first = b->t->n;
	}
	if (g->skip || end <= start)
		return;
	if (delta < 0 || off > INT16_MAX) {
		/* Frames of 32 KiB and more (reflect's call trampolines): frame pointers there. */
		b->t->nunsupported++;
		add_row(b, start, (struct unwind_row){ .cfa = UNWIND_NONE });
	} else {
		add_row(b, start, (struct unwind_row){ .cfa = UNWIND_RSP, .cfa_off = off });
	}
	if (end == fn_end)
		add_row(b, end, (struct unwind_row){ .cfa = UNWIND_NONE });
}

/*
 * A stripped Go binary has neither .eh_frame nor .debug_frame, but its
 * runtime's .gopclntab holds each function's frame size at every pc (Go's
 * own traceback unwinds with it).  Go keeps rbp as a frame pointer and
 * says nothing of it: rows leave rbp unchanged, as the .debug_frame ones do.
 * Only functions no CFI described (a cgo binary's C code has .eh_frame).
 */
static int from_gopclntab(struct builder *b, Elf *elf, size_t ncovered)
{
	struct gopclntab *t = gopclntab__new(elf);
	struct go_builder g = { .b = b, .ncovered = ncovered };

	if (!t)
		return -ENOENT;
	gopclntab__sp_ranges(t, go_range, &g);
	gopclntab__free(t);
	return b->err;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct unwind_row *x = a, *y = b;

	if (x->pc != y->pc)
		return x->pc < y->pc ? -1 : 1;
	/* At one pc, a rule before "no CFI" (a function starting where one ends). */
	if ((x->cfa == UNWIND_NONE) != (y->cfa == UNWIND_NONE))
		return x->cfa == UNWIND_NONE ? 1 : -1;
	if (x->cfa != y->cfa)
		return x->cfa < y->cfa ? -1 : 1;
	if (x->cfa_off != y->cfa_off)
		return x->cfa_off < y->cfa_off ? -1 : 1;
	return x->rbp_off < y->rbp_off ? -1 : x->rbp_off > y->rbp_off;
}

/* Sorts the rows by pc; keeps one row per pc, and none that repeats the rule before it. */
static void normalize(struct unwind_table *t)
{
	size_t i, n = 0;
	uint32_t pc = 0;

	qsort(t->rows, t->n, sizeof(*t->rows), cmp_rows);
	for (i = 0; i < t->n; i++) {
		if (i && t->rows[i].pc == pc)
			continue; /* the first of a pc sorts best */
		pc = t->rows[i].pc;
		if (n && same_rule(&t->rows[n - 1], &t->rows[i]))
			continue;
		t->rows[n++] = t->rows[i];
	}
	t->n = n;
}

int unwind_table__build(int fd, struct unwind_table *out)
{
	struct builder b = { .t = out };
	Elf *elf;
	int err;

	memset(out, 0, sizeof(*out));
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -EINVAL;
	err = from_eh_frame(&b, elf);
	if (!err || err == -ENOENT) {
		normalize(out);
		err = from_debug_frame(&b, elf, out->n);
		/* No .debug_frame: a stripped Go binary's frames come from its own table. */
		if (err == -ENOENT)
			err = from_gopclntab(&b, elf, out->n);
		if (err == -ENOENT)
			err = 0;
	}
	elf_end(elf);
	if (!err && out->n == 0)
		err = -ENOENT;
	if (err) {
		unwind_table__free(out);
		return err;
	}
	normalize(out);
	return 0;
}

void unwind_table__free(struct unwind_table *t)
{
	if (!t)
		return;
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

const struct unwind_row *unwind_table__find(const struct unwind_table *t, uint32_t pc)
{
	return bsearch_last_le(t->rows, t->n, pc, pc);
}

/*
 * An ELF image in memory holding only .eh_frame at eh_addr (and the
 * section names), for libdw's CFI reader: generated code has no file.
 */
static void *eh_frame_image(const void *eh, size_t eh_size, uint64_t eh_addr, size_t *size)
{
	static const char names[] = "\0.eh_frame\0.shstrtab";
	size_t data_off = sizeof(Elf64_Ehdr), names_off = data_off + ((eh_size + 7) & ~(size_t)7);
	size_t sh_off = names_off + ((sizeof(names) + 7) & ~(size_t)7);
	Elf64_Ehdr *eh_hdr;
	Elf64_Shdr *sh;
	char *img;

	*size = sh_off + 3 * sizeof(Elf64_Shdr);
	img = calloc(1, *size);
	if (!img)
		return NULL;
	eh_hdr = (Elf64_Ehdr *)img;
	memcpy(eh_hdr->e_ident, ELFMAG, SELFMAG);
	eh_hdr->e_ident[EI_CLASS] = ELFCLASS64;
	eh_hdr->e_ident[EI_DATA] = ELFDATA2LSB;
	eh_hdr->e_ident[EI_VERSION] = EV_CURRENT;
	eh_hdr->e_type = ET_DYN;
	eh_hdr->e_machine = EM_X86_64;
	eh_hdr->e_version = EV_CURRENT;
	eh_hdr->e_ehsize = sizeof(Elf64_Ehdr);
	eh_hdr->e_shoff = sh_off;
	eh_hdr->e_shentsize = sizeof(Elf64_Shdr);
	eh_hdr->e_shnum = 3;
	eh_hdr->e_shstrndx = 2;
	memcpy(img + data_off, eh, eh_size);
	memcpy(img + names_off, names, sizeof(names));
	sh = (Elf64_Shdr *)(img + sh_off);
	sh[1] = (Elf64_Shdr){ .sh_name = 1,
			      .sh_type = SHT_PROGBITS,
			      .sh_flags = SHF_ALLOC,
			      .sh_addr = eh_addr,
			      .sh_offset = data_off,
			      .sh_size = eh_size,
			      .sh_addralign = 8 };
	sh[2] = (Elf64_Shdr){ .sh_name = 11,
			      .sh_type = SHT_STRTAB,
			      .sh_offset = names_off,
			      .sh_size = sizeof(names),
			      .sh_addralign = 1 };
	return img;
}

int unwind_table__from_eh_frame(const void *eh, size_t eh_size, uint64_t eh_addr, uint64_t start,
				uint64_t size, struct unwind_table *out)
{
	struct builder b = { .t = out, .bias = start };
	Dwarf_CFI *cfi;
	size_t img_size;
	void *img;
	Elf *elf;

	memset(out, 0, sizeof(*out));
	if (!eh_size || !size || size > UINT32_MAX)
		return -EINVAL;
	img = eh_frame_image(eh, eh_size, eh_addr, &img_size);
	if (!img)
		return -ENOMEM;
	elf_version(EV_CURRENT);
	elf = elf_memory(img, img_size);
	cfi = elf ? dwarf_getcfi_elf(elf) : NULL;
	if (cfi) {
		add_function(&b, cfi, start, start + size);
		dwarf_cfi_end(cfi);
	}
	if (elf)
		elf_end(elf);
	free(img);
	if (!b.err && out->n < 2)
		b.err = -ENOENT; /* no FDE for the code: only the closing row, if that */
	if (b.err) {
		unwind_table__free(out);
		return b.err;
	}
	normalize(out);
	return 0;
}
