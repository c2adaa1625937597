/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Address → (mapping, function, file:line, inline chain) for user processes
 * and the kernel.  Knows nothing about profile types or pprof.
 *
 * Processes are tracked while they live by the process table (their maps
 * are recorded and the mapped files opened) so that addresses of processes
 * that have exited since can still be symbolized.
 */
#ifndef BPFPROF_SYMBOLIZE_H
#define BPFPROF_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYM_MAX_INLINE 16

struct sym_frame {
	const char *function;	 /* demangled; NULL when unknown */
	const char *system_name; /* raw symbol name; NULL when unknown */
	const char *file;	 /* source file; NULL when unknown */
	int line;		 /* 0 when unknown */
	int start_line;		 /* of the function, 0 when unknown */
};

struct sym_loc {
	/* The mapping the address is in, as the process saw it. */
	uint64_t map_start;
	uint64_t map_end;
	uint64_t map_offset;
	const char *map_file; /* path in the process ("[kernel.kallsyms]", "[vdso]", ...) */
	const char *build_id; /* hex, or "" */
	bool has_functions;   /* a symbol table was found */
	bool has_lines;	      /* DWARF line info was found */
	bool has_inlines;     /* DWARF inline info was found */
	/*
	 * 0 when the address could not be symbolized.  An address in a file
	 * without a symbol for it (a stripped library, the vdso's internal
	 * functions) gets one frame named "module+0xoffset", the file's base
	 * name and the address's offset in the file, as perf shows it.
	 */
	int nframes;
	struct sym_frame frames[SYM_MAX_INLINE]; /* innermost first */
	char module_offset[96];			 /* the name of such a frame */
};

struct symbolizer;
struct proctab;

/*
 * Symbolizes the processes of procs (proc/procs.h), which the caller keeps
 * current (refresh, exec) and frees after the symbolizer; kallsyms is read
 * from its procfs.  NULL and errno on failure.
 */
struct symbolizer *symbolizer__new(struct proctab *procs);
void symbolizer__free(struct symbolizer *s);

/*
 * Symbolizes a user address of pid.  Strings in out stay valid until the
 * symbolizer is freed.  -ENOENT when no recorded mapping holds addr (out
 * then has nframes 0 and no mapping).
 */
int symbolizer__user(struct symbolizer *s, int pid, uint64_t addr, struct sym_loc *out);
/*
 * Closes the ELF files no lookup used since before_ns (CLOCK_MONOTONIC):
 * a long-running capture keeps the symbols of what it still sees, not of
 * everything it ever saw.  A file asked for again is opened again (its
 * descriptor stays in the file table).  Returns how many were closed.
 */
size_t symbolizer__close_idle(struct symbolizer *s, int64_t before_ns);
/* ELF files open for symbols. */
size_t symbolizer__open_files(const struct symbolizer *s);
/*
 * Reads what pid's runtime has appended to its perf map and jitdump since
 * the last read, when it maps anonymous executable memory: called while
 * the process lives (the session's refresh) so that code named only by a
 * process that exits before the end keeps its names.
 */
void symbolizer__jit_refresh(struct symbolizer *s, int pid);

/*
 * For a long-running capture: forgets what was read for the processes the
 * process table no longer holds, their names with it (each process has
 * its own string pool).  Returns how many.
 */
size_t symbolizer__jit_forget_gone(struct symbolizer *s);

struct sym_jit_stats {
	uint64_t procs;	       /* processes whose JIT files were looked for */
	uint64_t reads;	       /* reads of them */
	uint64_t miss_reads;   /* of which after a lookup missed */
	uint64_t map_bytes;    /* perf map bytes read */
	uint64_t map_entries;  /* entries held from perf maps */
	uint64_t dump_entries; /* from jitdumps */
	uint64_t bytes;	       /* memory the entries and their names hold */
	uint64_t read_ns;      /* CPU time spent reading them */
};
const struct sym_jit_stats *symbolizer__jit_stats(struct symbolizer *s);

/* Symbolizes a kernel address; -ENOENT when kallsyms are unavailable. */
int symbolizer__kernel(struct symbolizer *s, uint64_t addr, struct sym_loc *out);
/*
 * The address of the kernel text symbol name, from the same kallsyms;
 * -ENOENT when there is none or kallsyms are unavailable.
 */
int symbolizer__kernel_addr(struct symbolizer *s, const char *name, uint64_t *addr);

/*
 * The symbol tables open: one per mapped file, which the file table
 * identifies by build id (else device and inode), so every container of one
 * image shares one.  See symbolize/elf.h's struct symcache_stats.
 */
struct symcache_stats;
void symbolizer__stats(const struct symbolizer *s, struct symcache_stats *out);

#endif
