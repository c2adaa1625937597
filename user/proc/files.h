/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The files processes map, each opened once and shared by every process
 * and every user (the symbolizer, the unwinder).  A file is identified by
 * its GNU build id where it has one, else by device, inode, size and
 * modification time; a file found under a new device/inode whose build id
 * is known is the entry already open.  The vdso is copied once.
 */
#ifndef BPFPROF_PROC_FILES_H
#define BPFPROF_PROC_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proc/maps.h"

/* What each user of the table keeps per file (pfile.priv). */
enum pfile_user {
	PFILE_SYMBOLIZER,
	PFILE_UNWINDER,
	PFILE__USERS,
};

struct pfile {
	int fd; /* read-only; open until the file is evicted */
	uint64_t dev, ino;
	int64_t size;
	struct timespec mtime;
	char build_id[2 * 64 + 1]; /* hex, or "" */
	char *name;		   /* the path it was first mapped at, for messages */
	bool vdso;
	uint32_t refs; /* mappings of tracked processes that hold it */
	void *priv[PFILE__USERS];
};

struct filetab;

/* Called for a file's priv[user] when the file is evicted, if it is non-NULL. */
typedef void (*pfile_release_fn)(void *ctx, struct pfile *f);

struct filetab *filetab__new(void);
void filetab__free(struct filetab *t);
void filetab__on_release(struct filetab *t, enum pfile_user user, pfile_release_fn fn, void *ctx);
/* Sets every file's priv[user] to NULL: that user is gone. */
void filetab__clear_priv(struct filetab *t, enum pfile_user user);

/*
 * The file mapped by v in pid: through <procfs>/PID/map_files (the very
 * file mapped, even deleted or replaced), else the path under
 * <procfs>/PID/root (the process's mount namespace) unless it was deleted.
 * The vdso is bpfprof's own copy.  NULL and errno when it cannot be opened
 * (anonymous mappings: EINVAL).
 */
struct pfile *filetab__get(struct filetab *t, const char *procfs, int pid, const struct vma *v);
/* The vdso image of this kernel, copied into a memfd on first use; NULL and errno. */
struct pfile *filetab__vdso(struct filetab *t);

/* A new descriptor of f with its own offset; -errno. */
int pfile__open(const struct pfile *f);
/* A path that opens f as long as it is in the table: "/proc/self/fd/N". */
void pfile__path(const struct pfile *f, char *buf, size_t len);

/*
 * Frees the files no mapping holds (refs 0), users told first; returns how
 * many.  The vdso copy stays: it is one page, the same for every process.
 */
size_t filetab__evict_unused(struct filetab *t);
size_t filetab__count(const struct filetab *t);
/* Bytes the table holds, files' users' data aside. */
size_t filetab__bytes(const struct filetab *t);
/* How often the vdso was copied (once per table). */
unsigned filetab__vdso_copies(const struct filetab *t);

#endif
