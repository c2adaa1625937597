/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unwind tables for one process's generated code, from the .eh_frame its
 * runtime writes into jitdump (UNWINDING_INFO before each CODE_LOAD).
 * Each function's rows are built once, relative to its start; a code load
 * over a described range replaces what was there, a move moves it, and
 * the table the unwinder publishes holds only the functions inside
 * mappings that are still there.
 */
#ifndef BPFPROF_UNWIND_JITCODE_H
#define BPFPROF_UNWIND_JITCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unwind/table.h"

struct jitcode;

struct jitcode_stats {
	size_t funcs;	     /* functions described now */
	size_t rows;	     /* their rows */
	uint64_t loads;	     /* code loads read (with or without a table) */
	uint64_t bad_tables; /* .eh_frame that described none of its code */
	uint64_t dropped;    /* functions left out: the per-process bound was reached */
	uint64_t replaced;   /* functions dropped because new code was loaded over them */
};

/* Rows one process's generated code may take (its functions past that are left out). */
#define JITCODE_MAX_ROWS (1u << 18)

struct jitcode *jitcode__new(void);
void jitcode__free(struct jitcode *c);
/*
 * Reads what is new in the jitdump at path (inside root: jit_open_in_root).  1 when the functions described
 * changed, 0 when not, -errno.  A replaced or truncated file starts over.
 */
int jitcode__read(struct jitcode *c, const char *root, const char *path);
/* The same from records handed over directly (tests, and jitcode__read). */
void jitcode__load(struct jitcode *c, uint64_t addr, uint64_t size, const unsigned char *eh_frame,
		   size_t eh_size);
void jitcode__move(struct jitcode *c, uint64_t old_addr, uint64_t new_addr, uint64_t size);

/*
 * Where a function may be: keep(ctx, start, end) says 1 (in a live mapping
 * of generated code), 0 (not known: left out of the table, kept), or -1
 * (in memory unmapped since: forgotten).
 */
typedef int (*jitcode_keep_fn)(void *ctx, uint64_t start, uint64_t end);

/*
 * The table of the functions keep accepts, rows relative to *base (the
 * 64 KiB page of the lowest one); functions 4 GiB or more above it are
 * left out.  -ENOENT when none.
 */
int jitcode__table(struct jitcode *c, jitcode_keep_fn keep, void *ctx, uint64_t *base,
		   struct unwind_table *out);
void jitcode__stats(const struct jitcode *c, struct jitcode_stats *out);

#endif
