/* SPDX-License-Identifier: (Apache-2.0 OR BSD-2-Clause OR GPL-2.0-only) */
/*
 * heap --mode growth (bpf/heap_growth.bpf.c → user/collect/heap_growth.c):
 * growth of private anonymous memory by stack.  Shared by both sides; its
 * own header because nothing else uses it.  The aggregation key is a plain
 * struct stack_key (user stack only).
 */
#ifndef BPFPROF_GROWTH_H
#define BPFPROF_GROWTH_H

#include "bpfprof/common.h"

/* The value of the growth map: what one stack did to the process's anonymous memory. */
struct growth_val {
	__u64 faults;	      /* sampled write faults on private anonymous memory (each one
				 stands for fault_every faults of a page) */
	__u64 grown_bytes;    /* address space made usable: brk, mmap, mremap, mprotect */
	__u64 released_bytes; /* address space given back: brk, munmap, mremap, mprotect */
};

/*
 * A memory syscall of a target thread between its entry and its exit (by
 * tid): what it will have grown or released if it succeeds.
 */
struct growth_pending {
	__u64 old_brk; /* brk: the break at entry (mm->brk) */
	__u64 grow;    /* other calls: bytes added on success */
	__u64 release; /* other calls: bytes given back on success */
	__u32 nr;      /* syscall number, checked at the exit */
	__u32 pad;
};

#endif
