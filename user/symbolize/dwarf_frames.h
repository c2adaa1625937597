/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frames from DWARF: the compile unit that holds an address, then the chain
 * of inlined instances there, for the lookups of elf.c.
 */
#ifndef BPFPROF_DWARF_FRAMES_H
#define BPFPROF_DWARF_FRAMES_H

#include <elfutils/libdwfl.h>

#include "symbolize/symbolize.h"

struct strpool;

/*
 * Frames (innermost inlined first, at most SYM_MAX_INLINE) for the module
 * address addr (ELF vaddr + the module's bias) of mod; returns how many were
 * written, 0 when no compile unit holds addr.  Strings are interned in strs.
 */
int resolve_dwarf(Dwfl_Module *mod, Dwarf_Addr addr, struct strpool *strs, struct sym_frame *out);

#endif
