// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "elf/section.h"

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

int elf_entry_offset(const char *path, unsigned long *offset)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = -ENOEXEC;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t i, n;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh) && eh.e_entry &&
	    !elf_getphdrnum(elf, &n)) {
		for (i = 0; i < n; i++) {
			if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD ||
			    !(ph.p_flags & PF_X) || eh.e_entry < ph.p_vaddr ||
			    eh.e_entry >= ph.p_vaddr + ph.p_filesz)
				continue;
			*offset = eh.e_entry - ph.p_vaddr + ph.p_offset;
			err = 0;
			break;
		}
	}
	elf_end(elf);
	close(fd);
	return err;
}
