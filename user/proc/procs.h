/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The processes bpfprof tracks and their executable mappings, each read
 * once per refresh and shared by the symbolizer and the unwinder.  Mappings
 * a process unmaps stay recorded (unmapped code may still be sampled) until
 * new ones overlap them; an exec forgets them; an exited process stays (its
 * samples are symbolized after it is gone) until evicted.
 */
#ifndef BPFPROF_PROC_PROCS_H
#define BPFPROF_PROC_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc/files.h"

/*
 * An executable mapping as recorded.  Stacks only ever hold code
 * addresses, so other mappings are not kept: a JVM has thousands of them.
 */
struct pmap {
	uint64_t start, end, offset;
	uint64_t dev, ino;  /* as maps shows them */
	const char *path;   /* interned, as in maps without " (deleted)" */
	struct pfile *file; /* NULL: anonymous, or it could not be opened */
	bool live;	    /* in the last read of maps */
};

struct pproc {
	int pid;
	bool exited;
	char name[64];	 /* executable name, set by whoever tracks the process ("" until then) */
	const char *exe; /* its executable's path (proctab__set_exe), NULL until then */
	/* CLOCK_MONOTONIC ns of the last and the first read of its maps by the
	 * session's refresh policy; read_at 0: not read, or found gone. */
	int64_t read_at, first_at;
	uint64_t exit_seq; /* order of exits, for eviction */
	int64_t exited_at; /* CLOCK_MONOTONIC ns when found gone */
	struct pmap *maps; /* sorted by start, not overlapping */
	size_t n;
};

struct proctab;

/* procfs is "/proc" except in tests.  NULL and errno on failure. */
struct proctab *proctab__new(const char *procfs);
void proctab__free(struct proctab *t);
const char *proctab__procfs(const struct proctab *t);
struct filetab *proctab__files(struct proctab *t);

/*
 * Reads pid's maps and merges them into its record: new mappings win, old
 * ones they do not overlap stay (not live).  Files are opened for new
 * mappings only.  -ESRCH when the process is gone (it is then marked
 * exited).
 */
int proctab__refresh(struct proctab *t, int pid);
/*
 * pid is a fork of parent that has not exec'd (BPF says so): its mappings
 * and executable are parent's, copied without reading procfs.  Its record,
 * or NULL without memory.
 */
struct pproc *proctab__fork(struct proctab *t, int pid, const struct pproc *parent);
/* pid has exec'd: forgets its old mappings, then refreshes. */
int proctab__exec(struct proctab *t, int pid);
/* pid has exited: its mappings stay until evicted. */
void proctab__exit(struct proctab *t, int pid);
/* Forgets pid now; its files stay until evicted. */
void proctab__forget(struct proctab *t, int pid);

const struct pproc *proctab__find(const struct proctab *t, int pid);
/* pid's record, made (without reading its maps) when there is none; NULL: no memory. */
struct pproc *proctab__get(struct proctab *t, int pid);
/*
 * Every record, for a walk: i from 0 to proctab__slots(); a slot may be
 * NULL (forgotten).  Refreshing or exiting processes during the walk is
 * fine; forgetting or evicting is not.
 */
size_t proctab__slots(const struct proctab *t);
struct pproc *proctab__slot(const struct proctab *t, size_t i);
/*
 * Records path (as /proc/PID/exe reads, " (deleted)" stripped) as p's
 * executable, interned with the mapping paths.  0 or -ENOMEM.
 */
int proctab__set_exe(struct proctab *t, struct pproc *p, const char *path);
/* The lowest recorded mapping of p's executable (by path), or NULL. */
const struct pmap *pproc__exe_map(const struct pproc *p);
/* The recorded mapping of p holding addr, or NULL. */
const struct pmap *pproc__find(const struct pproc *p, uint64_t addr);

size_t proctab__count(const struct proctab *t);
/* Bytes the tables hold (processes, mappings, files), users' data aside. */
size_t proctab__bytes(const struct proctab *t);
/*
 * For a long-running capture at its memory limit: forgets exited
 * processes, longest gone first, until the tables hold at most limit
 * bytes, then frees the files no tracked process maps.  Live processes
 * stay.  Returns the bytes held after.
 */
size_t proctab__evict(struct proctab *t, size_t limit);
/*
 * For a long-running capture: forgets the processes found gone before
 * before_ns (CLOCK_MONOTONIC), which nothing it keeps can name any more,
 * then frees the files no tracked process maps.  Returns how many.
 */
size_t proctab__evict_gone(struct proctab *t, int64_t before_ns);

#endif
