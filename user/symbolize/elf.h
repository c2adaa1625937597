/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ELF files (libdw) the symbolizer opened, one per mapped file of the
 * file table (proc/files.h), which finds them.
 */
#ifndef BPFPROF_SYMELF_H
#define BPFPROF_SYMELF_H

#include <stdbool.h>
#include <stdint.h>

#include "symbolize/symbolize.h"

struct symcache;
struct sym_file;
struct strpool;

struct symcache *symcache__new(void);
void symcache__free(struct symcache *c);

/*
 * Opens the ELF file at path (a mapped file's /proc/self/fd/N); it stays
 * until closed or the cache is freed.  NULL and errno when it is not a
 * readable ELF.
 */
struct sym_file *symcache__open(struct symcache *c, const char *path);
/* Frees f (its mapped file was evicted); strings it gave out stay. */
void symcache__close(struct symcache *c, struct sym_file *f);
/* Who opened f (given back by symcache__close_idle); it counts as used now. */
void sym_file__set_owner(struct sym_file *f, void *owner);
/* f was used now. */
void sym_file__touch(struct sym_file *f);
/*
 * Closes the files not used since before_ns (CLOCK_MONOTONIC), calling
 * closed(ctx, owner) for each first; returns how many.  Their tables,
 * ELF mappings and libdw's data go; opened again, a file reads anew.
 */
size_t symcache__close_idle(struct symcache *c, int64_t before_ns,
			    void (*closed)(void *ctx, void *owner), void *ctx);
/* Files open. */
size_t symcache__count(const struct symcache *c);

struct symcache_stats {
	size_t files;	   /* ELF files open: one per mapped file (build id), however many map it */
	uint64_t opened;   /* files opened since the cache was made */
	size_t file_bytes; /* their sizes: libdw maps them (shared, reclaimable pages) */
	size_t cache_bytes; /* what the cache allocated for them: segments, address caches */
};
void symcache__stats(const struct symcache *c, struct symcache_stats *out);

/* Hex GNU build id, or "". */
const char *sym_file__build_id(const struct sym_file *f);
/* Whether f has a symbol table / DWARF: read when first asked (costly: debug info). */
bool sym_file__has_symbols(struct sym_file *f);
bool sym_file__has_dwarf(struct sym_file *f);
/* Whether f gives file:line: DWARF, or a Go binary's own table. */
bool sym_file__has_lines(struct sym_file *f);
/* Maps a file offset to the ELF virtual address through PT_LOAD; -ENOENT if none. */
int sym_file__offset_to_vaddr(const struct sym_file *f, uint64_t offset, uint64_t *vaddr);
/*
 * Frames (innermost inlined first) for the ELF virtual address vaddr; returns
 * how many were written (0 when unknown).  Strings live as long as the cache.
 */
int sym_file__lookup(struct sym_file *f, uint64_t vaddr, struct sym_frame *frames, int max);
/*
 * The ELF symbol (.symtab, .dynsym or MiniDebugInfo's, mangled) whose range
 * holds vaddr, or NULL: what lookup falls back to without DWARF.  Binary
 * search in a table sorted at the first call.
 */
const char *sym_file__elf_symbol(struct sym_file *f, uint64_t vaddr);

/*
 * The demangled form of a C++ (or legacy Rust) symbol, interned in strs;
 * other names as they are.  For the ELF and the DWARF names alike.
 */
const char *sym_demangle(struct strpool *strs, const char *name);

#endif
