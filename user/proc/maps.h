/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing /proc/PID/maps. */
#ifndef BPFPROF_PROCMAPS_H
#define BPFPROF_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vma {
	uint64_t start;	 /* first byte */
	uint64_t end;	 /* one past the last byte */
	uint64_t offset; /* file offset of start */
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	bool read, write, exec, shared;
	char *path;   /* "" for anonymous, "[vdso]", "[stack]", ...; " (deleted)" stripped */
	bool deleted; /* the path had a " (deleted)" suffix */
};

struct vma_list {
	struct vma *vmas; /* sorted by start */
	size_t n;
};

/* Parses maps text from f; 0 or -errno (-EINVAL on a malformed line). */
int procmaps__parse(FILE *f, struct vma_list *out);
/* Reads <procfs>/<pid>/maps; procfs is "/proc" except in tests.  -ESRCH when gone. */
int procmaps__read(const char *procfs, int pid, struct vma_list *out);
/*
 * The executable vmas only, the same as procmaps__read() keeps: by
 * PROCMAP_QUERY where the kernel has it (no text for the other vmas),
 * else from the text.
 */
int procmaps__read_exec(const char *procfs, int pid, struct vma_list *out);
/* The vma holding addr, or NULL. */
const struct vma *procmaps__find(const struct vma_list *l, uint64_t addr);
void procmaps__free(struct vma_list *l);

#endif
