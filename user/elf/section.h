/* SPDX-License-Identifier: Apache-2.0 */
/* Small libelf helpers shared by the symbolizer and the unwind tables. */
#ifndef BPFPROF_ELFSCN_H
#define BPFPROF_ELFSCN_H

#include <gelf.h>

/* The section named name, with its header in *shdr; NULL when absent or SHT_NOBITS. */
Elf_Scn *elf_section_by_name(Elf *elf, const char *name, GElf_Shdr *shdr);

/*
 * The file offset of the entry point of the ELF executable at path (where a
 * uprobe on it goes); -ENOEXEC for a file that is not one (a script).
 */
int elf_entry_offset(const char *path, unsigned long *offset);

#endif
