/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Feeds the BPF unwinder (bpf/unwind.bpf.h): builds the unwind table of
 * every file a target maps (once per file, shared by all processes), writes
 * it into the rows map, and keeps each process's mapping list current.
 */
#ifndef BPFPROF_UNWINDER_H
#define BPFPROF_UNWINDER_H

#include <stddef.h>
#include <stdint.h>

struct unwinder;
struct proctab;

struct unwinder_stats {
	size_t files;	     /* files with a table */
	size_t files_no_cfi; /* executable files without usable CFI */
	size_t files_full;   /* files left out: the rows map was full */
	size_t rows;	     /* rows in use */
	size_t max_rows;
	double build_ms;     /* time spent building tables */
	size_t maps_dropped; /* mappings beyond UNWIND_MAX_MAPS per process */
	uint64_t evictions;  /* tables evicted to make room (least recently used) */
	size_t rebuilds;     /* evicted tables built again for a live process */
	size_t procs_swept;  /* exited processes taken out of the full processes map */
	size_t procs_full;   /* processes left without tables: as many live ones as the map holds */
	size_t max_procs;    /* what the processes map holds */
	/* Generated code described by jitdump's UNWINDING_INFO (unwind/jitcode.h). */
	size_t jit_procs;     /* processes with a jitdump */
	size_t jit_funcs;     /* functions with a table */
	size_t jit_rows;      /* rows of the last table published */
	uint64_t jit_bad;     /* .eh_frame that described none of its code */
	uint64_t jit_dropped; /* functions past a process's bound */
	size_t jit_full;      /* tables left out: the rows map was full */
};

/*
 * rows_fd: the mmapable unwind_rows array of max_rows entries; pages_fd and
 * procs_fd: unwind_pages and unwind_procs.  procs: the processes and files
 * the capture tracks (proc/procs.h), freed after the unwinder.
 */
struct unwinder *unwinder__new(struct proctab *procs, int rows_fd, uint32_t max_rows, int pages_fd,
			       int procs_fd);
void unwinder__free(struct unwinder *u);
/*
 * Publishes pid's mappings as the process table last read them, building
 * missing tables; -ESRCH when the table has it gone.
 */
int unwinder__track_pid(struct unwinder *u, int pid);
void unwinder__stats(const struct unwinder *u, struct unwinder_stats *out);

#endif
