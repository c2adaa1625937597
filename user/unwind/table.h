/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact unwind tables from an ELF file's .eh_frame (through
 * .eh_frame_hdr) and .debug_frame (Go; both in a Go binary linked with
 * cgo): per address range, how to find the CFA and the caller's rbp on
 * x86-64.  Built with libdw's CFI interpreter.
 */
#ifndef BPFPROF_UNWIND_TABLE_H
#define BPFPROF_UNWIND_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "bpfprof/types.h"

struct unwind_table {
	struct unwind_row *rows; /* sorted by pc */
	size_t n;
	size_t nfdes;	     /* functions described */
	size_t nunsupported; /* rows whose CFA needs an expression we don't run */
};

/* Builds the table of the ELF file open at fd; -ENOENT when it has no CFI. */
int unwind_table__build(int fd, struct unwind_table *out);
void unwind_table__free(struct unwind_table *t);
/* The row that holds pc, or NULL when pc is before the first row. */
const struct unwind_row *unwind_table__find(const struct unwind_table *t, uint32_t pc);

#endif
