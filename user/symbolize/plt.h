/* SPDX-License-Identifier: Apache-2.0 */
/* Names for PLT stubs, which have no symbol of their own: "malloc@plt". */
#ifndef BPFPROF_PLT_H
#define BPFPROF_PLT_H

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Writes "NAME@plt" for an address in .plt or .plt.sec of elf, from the
 * .rela.plt entry of its stub.  Returns 0, or -ENOENT when vaddr is in no
 * PLT stub that names a symbol.
 */
int plt_name(Elf *elf, uint64_t vaddr, char *buf, size_t len);

#endif
