/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Objects a sampled process loads later (dlopen), their slots redirected
 * when the dynamic loader reports them, before their constructors run
 * (heap/dlopen.c).
 */
#ifndef BPFPROF_HEAP_DLOPEN_H
#define BPFPROF_HEAP_DLOPEN_H

#include <stdbool.h>
#include <stdint.h>

#include "heap/tracee.h"
#include "proc/maps.h"

/* Where a process's dynamic loader reports dlopen and dlclose. */
struct heap_dl {
	uint64_t r_debug;    /* its struct r_debug (_r_debug) */
	uint64_t r_brk;	     /* the function it calls at each change (_dl_debug_state) */
	uint64_t brk_off;    /* r_brk's offset in the loader's file, for a uprobe */
	uint64_t start, end; /* the loader's first mapping: its file in /proc/PID/map_files */
};

/* Finds pid's loader's r_debug and r_brk: 0, or -errno with why. */
int heap_dl_find(int pid, struct heap_dl *dl, char *why, size_t whylen);

/* A descriptor of the loader's file (for the uprobe on r_brk), or -errno. */
int heap_dl_open(int pid, const struct heap_dl *dl);

/*
 * s stopped, thread index i just notified at r_brk (RT_CONSISTENT): the
 * objects mapped since known[] are in the loader's list but not relocated
 * yet.  Breakpoints on their constructors (DT_INIT, DT_INIT_ARRAY), the
 * thread run alone to the first one, the breakpoints taken out: then every
 * new object is relocated and none of their code has run.  Returns 0 when
 * the thread stands at a constructor, -EAGAIN when they had none or it did
 * not get there within timeout_ns (blocked, say, on a lock a stopped thread
 * holds; it is stopped again, nothing changed), or another -errno.
 */
int heap_dl_run_to_init(struct tracee *s, int i, const struct vma_list *maps, const uint64_t *known,
			int nknown, int64_t timeout_ns);

/*
 * Whether pid is its terminal's foreground job: then it is not held at r_brk,
 * as its shell would report the stop and take the terminal back.
 */
bool heap_dl_foreground(int pid);

#endif
