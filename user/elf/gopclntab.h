/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Function names and file:line of Go binaries from their .gopclntab, the
 * table Go's own runtime symbolizes with.  It is loaded with the program,
 * so it survives `go build -ldflags=-s -w` and strip, which remove the
 * symbol table and DWARF: the usual state of Go binaries in containers and
 * distributions (containerd, kubelet, ...).  Go 1.18 and later.  Shared by
 * the symbolizer (names, lines) and the unwind tables (frame sizes).
 */
#ifndef BPFPROF_GOPCLNTAB_H
#define BPFPROF_GOPCLNTAB_H

#include <gelf.h>
#include <stdbool.h>
#include <stdint.h>

struct gopclntab;

/* The table of elf, or NULL (errno ENOENT: none or a format before Go 1.18; EINVAL: bad). */
struct gopclntab *gopclntab__new(Elf *elf);
/* The same from the section's bytes and the ELF address of the text (tests, fuzzing). */
struct gopclntab *gopclntab__from_data(const void *data, size_t size, uint64_t text);
void gopclntab__free(struct gopclntab *t);

struct gopclntab_pos {
	const char *function; /* in the table; NULL when pc is in no function */
	const char *file;     /* NULL when unknown */
	int line;	      /* 0 when unknown */
	int start_line;	      /* of the function (Go 1.20+), 0 when unknown */
};

/*
 * Where the ELF virtual address pc is; false when no function holds it.
 * The strings point into the ELF data: they live as long as elf.
 */
bool gopclntab__lookup(const struct gopclntab *t, uint64_t pc, struct gopclntab_pos *out);

/*
 * Every function's frame, for unwinding: for each range [start, end) of
 * its pc-to-SP-delta table, the stack pointer is delta bytes below its
 * value at the function's entry [fn_start, fn_end), where the return
 * address is at the stack pointer.  Returns the number of functions.
 */
typedef void (*gopclntab_sp_fn)(void *ctx, uint64_t fn_start, uint64_t fn_end, uint64_t start,
				uint64_t end, int32_t delta);
size_t gopclntab__sp_ranges(const struct gopclntab *t, gopclntab_sp_fn fn, void *ctx);

#endif
