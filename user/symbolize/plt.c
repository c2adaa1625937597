// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "elf/section.h"

#include "symbolize/plt.h"

#define PLT_ENTRY 16 /* x86-64 PLT and .plt.sec entries */

/* The .rela.plt index of the stub at vaddr, or -1. */
static long stub_index(Elf *elf, uint64_t vaddr)
{
	GElf_Shdr sec, plt;
	bool has_sec = elf_section_by_name(elf, ".plt.sec", &sec) != NULL;

	/* With IBT, .plt.sec holds one stub per import, in .rela.plt order. */
	if (has_sec && vaddr >= sec.sh_addr && vaddr < sec.sh_addr + sec.sh_size)
		return (vaddr - sec.sh_addr) / PLT_ENTRY;
	/* .plt: entry 0 calls the resolver; entry k + 1 is import k. */
	if (elf_section_by_name(elf, ".plt", &plt) && vaddr >= plt.sh_addr + PLT_ENTRY &&
	    vaddr < plt.sh_addr + plt.sh_size)
		return (vaddr - plt.sh_addr) / PLT_ENTRY - 1;
	return -1;
}

/* Writes "NAME@plt" for the symbol of relocation r, whose symbols are in section symtab. */
static int rela_name(Elf *elf, const GElf_Rela *r, size_t symtab, char *buf, size_t len)
{
	Elf_Scn *sym_scn = elf_getscn(elf, symtab);
	GElf_Shdr sym_shdr;
	Elf_Data *sym_data;
	const char *name;
	GElf_Sym sym;

	if (!sym_scn || !gelf_getshdr(sym_scn, &sym_shdr) ||
	    !(sym_data = elf_getdata(sym_scn, NULL)))
		return -ENOENT;
	/* IRELATIVE stubs have no symbol: leave them unnamed. */
	if (GELF_R_SYM(r->r_info) == 0 || !gelf_getsym(sym_data, GELF_R_SYM(r->r_info), &sym))
		return -ENOENT;
	name = elf_strptr(elf, sym_shdr.sh_link, sym.st_name);
	if (!name || !*name)
		return -ENOENT;
	snprintf(buf, len, "%s@plt", name);
	return 0;
}

/*
 * .plt.got stubs (functions also used by address, or -z now): each is a
 * `jmp *GOT(%rip)`, named by the .rela.dyn entry of that GOT slot.
 */
static int plt_got_name(Elf *elf, uint64_t vaddr, char *buf, size_t len)
{
	GElf_Shdr got, rela;
	Elf_Scn *got_scn = elf_section_by_name(elf, ".plt.got", &got), *rela_scn;
	Elf_Data *code, *relas;
	uint64_t entry, size, slot = 0;
	const uint8_t *p;
	GElf_Rela r;
	int32_t disp;
	size_t i;

	if (!got_scn || vaddr < got.sh_addr || vaddr >= got.sh_addr + got.sh_size)
		return -ENOENT;
	size = got.sh_entsize ? got.sh_entsize : 8;
	entry = got.sh_addr + (vaddr - got.sh_addr) / size * size;
	code = elf_getdata(got_scn, NULL);
	if (!code || !code->d_buf || entry - got.sh_addr + size > code->d_size)
		return -ENOENT;
	p = (const uint8_t *)code->d_buf + (entry - got.sh_addr);
	for (i = 0; i + 6 <= size; i++) {
		if (p[i] == 0xff && p[i + 1] == 0x25) {
			memcpy(&disp, p + i + 2, 4);
			slot = entry + i + 6 + disp;
			break;
		}
	}
	rela_scn = slot ? elf_section_by_name(elf, ".rela.dyn", &rela) : NULL;
	relas = rela_scn ? elf_getdata(rela_scn, NULL) : NULL;
	for (i = 0; relas && gelf_getrela(relas, i, &r); i++)
		if (r.r_offset == slot)
			return rela_name(elf, &r, rela.sh_link, buf, len);
	return -ENOENT;
}

int plt_name(Elf *elf, uint64_t vaddr, char *buf, size_t len)
{
	Elf_Scn *rela_scn;
	Elf_Data *rela_data;
	GElf_Shdr rela;
	GElf_Rela r;
	long i = stub_index(elf, vaddr);

	if (i < 0)
		return plt_got_name(elf, vaddr, buf, len);
	rela_scn = elf_section_by_name(elf, ".rela.plt", &rela);
	if (!rela_scn || !(rela_data = elf_getdata(rela_scn, NULL)) ||
	    !gelf_getrela(rela_data, i, &r))
		return -ENOENT;
	return rela_name(elf, &r, rela.sh_link, buf, len);
}
