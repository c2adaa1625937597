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
/*
 * The table of generated code at [start, start + size) from its .eh_frame
 * (eh_size bytes, at address eh_addr in the process: pc-relative pointers
 * count from there), rows relative to start; the last one, "no CFI", at
 * the end of what the CFI describes.  -ENOENT when it describes none of it.
 */
int unwind_table__from_eh_frame(const void *eh, size_t eh_size, uint64_t eh_addr, uint64_t start,
				uint64_t size, struct unwind_table *out);
void unwind_table__free(struct unwind_table *t);
/* The row that holds pc, or NULL when pc is before the first row. */
const struct unwind_row *unwind_table__find(const struct unwind_table *t, uint32_t pc);

#endif
