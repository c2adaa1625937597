// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "elfscn.h"

Elf_Scn *elf_section_by_name(Elf *elf, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *n;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, shdr))
			continue;
		n = elf_strptr(elf, shstrndx, shdr->sh_name);
		/* A section without data here (stripped to a debug file) is no section. */
		if (n && strcmp(n, name) == 0 && shdr->sh_type != SHT_NOBITS)
			return scn;
	}
	return NULL;
}
