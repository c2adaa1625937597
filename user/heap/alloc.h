/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which allocator a process uses, and where to probe it: the allocator's
 * file (the executable when it defines malloc, else a preloaded or linked
 * jemalloc/tcmalloc/mimalloc, else glibc), each allocation and free
 * function it exports, and where in each the uprobe traps cheaply.
 */
#ifndef BPFPROF_HEAP_ALLOC_H
#define BPFPROF_HEAP_ALLOC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfprof/types.h"

struct heap_func {
	char name[48];
	uint32_t fn;	 /* enum heap_fn */
	uint64_t entry;	 /* file offset of the function's first instruction */
	uint64_t offset; /* file offset probed: the entry, or a cheaper place after it */
	bool emulated;	 /* the kernel emulates the probed instruction (cheap trap) */
	char insn[48];	 /* what is probed there, for -v */
};

struct heap_allocator {
	char path[PATH_MAX + 32]; /* the file as bpfprof opens it (through /proc/PID/root) */
	char file[PATH_MAX];	  /* the file as the process sees it */
	char kind[64];		  /* "glibc", "jemalloc", ..., or "malloc in app" */
	struct heap_func funcs[HEAP_MAX_PROBES];
	int nfuncs;
};

struct proctab;

/*
 * The allocator of running process pid, its mappings read into procs; at_entry
 * probes every function at its entry.  Returns 0, or -errno with a one-line
 * reason in why.
 */
int heap_allocator_of_pid(struct proctab *procs, int pid, bool at_entry, struct heap_allocator *out,
			  char *why, size_t whylen);

/*
 * The allocator a command will use, before it runs: its executable and the
 * libraries its dynamic loader lists (`ld.so --list`, with LD_PRELOAD).
 */
int heap_allocator_of_command(const char *exe, bool at_entry, struct heap_allocator *out, char *why,
			      size_t whylen);

/*
 * The allocator among files (the executable first): paths to open, and
 * the same paths as the process sees them.  For tests and the two above.
 */
int heap_allocator_choose(char *const *open_paths, char *const *proc_paths, int n, bool at_entry,
			  struct heap_allocator *out, char *why, size_t whylen);

#endif
