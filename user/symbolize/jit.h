/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names for code a runtime generated (JIT, interpreter stubs), from the
 * files the runtimes write for perf: /tmp/perf-PID.map ("START SIZE name"
 * lines) and jit-PID.dump (jitdump: code loads, moves, source lines).
 *
 * A jitmap is one process's table of code ranges.  Entries are added in
 * the order the runtime wrote them; where ranges overlap (code freed and
 * its memory reused) the one written later wins.
 */
#ifndef BPFPROF_SYMBOLIZE_JIT_H
#define BPFPROF_SYMBOLIZE_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strpool;

struct jit_line {
	uint64_t addr; /* first code byte of the line */
	const char *file;
	int line;
};

struct jit_sym {
	uint64_t start, end;
	const char *name;
	uint64_t seq;		      /* order written: a later one wins */
	const struct jit_line *lines; /* sorted by addr; NULL when none */
	uint32_t nlines;
};

struct jitmap;

/* Strings come from pool, which must outlive the map.  NULL and errno. */
struct jitmap *jitmap__new(struct strpool *pool);
void jitmap__free(struct jitmap *m);
/* Forgets every entry (the file was replaced); names stay in the pool. */
void jitmap__clear(struct jitmap *m);
/*
 * Adds [start, start + size) named name (len bytes), with nlines source
 * lines (copied, sorted here).  0, -EINVAL (empty range), -ENOMEM.
 */
int jitmap__add(struct jitmap *m, uint64_t start, uint64_t size, const char *name, size_t len,
		const struct jit_line *lines, size_t nlines);
/* Moves the code at old_start to new_start (jitdump's CODE_MOVE). */
int jitmap__move(struct jitmap *m, uint64_t old_start, uint64_t new_start, uint64_t size);
/* The entry holding addr written last, or NULL. */
const struct jit_sym *jitmap__find(struct jitmap *m, uint64_t addr);
/* The source line of addr in sym, or NULL. */
const struct jit_line *jit_sym__line(const struct jit_sym *sym, uint64_t addr);
/* The pooled copy of s (len bytes): stays valid while the pool does.  NULL: no memory. */
const char *jitmap__intern(struct jitmap *m, const char *s, size_t len);
size_t jitmap__count(const struct jitmap *m);
size_t jitmap__bytes(const struct jitmap *m);

/*
 * A perf map file read as it grows: each read takes the complete lines
 * appended since the last one; a file that shrank, was replaced (another
 * inode) or rewritten in place (the bytes before the last read position
 * changed) is read again from its start, its old entries forgotten.
 */
struct perfmap {
	uint64_t dev, ino;
	uint64_t off;  /* bytes taken (complete lines) */
	char tail[32]; /* the bytes before off, to notice a rewrite */
	size_t ntail;
	uint64_t lines; /* entries taken */
	uint64_t bad;	/* lines that were not "START SIZE name" */
	uint64_t bytes_read;
	uint64_t reads, rereads;
};

/*
 * Reads what is new in the perf map at path into m.  The file must be a
 * regular file (no symbolic link as its last component).  0, or -errno
 * (-ENOENT: no such file).
 */
int perfmap__read(struct perfmap *pm, const char *path, struct jitmap *m);
/* The same for path as a process whose root directory is root sees it (jit_open_in_root). */
int perfmap__read_in(struct perfmap *pm, const char *root, const char *path, struct jitmap *m);
/*
 * Parses one line (without its newline): "START SIZE name", START and SIZE
 * hexadecimal with or without "0x".  0 or -EINVAL.
 */
int perfmap__parse_line(const char *s, size_t len, uint64_t *start, uint64_t *size,
			const char **name, size_t *name_len);

/*
 * What a reader other than the symbolizer takes from a jitdump (the
 * unwinder: code ranges and their unwind tables).
 */
struct jitdump_ops {
	/*
	 * Code loaded at [addr, addr + size).  eh_frame: the .eh_frame of the
	 * UNWINDING_INFO record written just before it (eh_size bytes; its
	 * .eh_frame_hdr left out), which the runtime placed in memory at
	 * addr + size rounded up to 8 bytes; NULL when there was none.
	 */
	void (*load)(void *ctx, uint64_t addr, uint64_t size, const unsigned char *eh_frame,
		     size_t eh_size);
	/* The code at old_addr moved to new_addr (CODE_MOVE). */
	void (*move)(void *ctx, uint64_t old_addr, uint64_t new_addr, uint64_t size);
	/* The file was replaced or shrank: what it said before is void. */
	void (*reset)(void *ctx);
};

/*
 * A jitdump file (the format of Linux's
 * tools/perf/Documentation/jitdump-specification.txt) read as it grows:
 * the complete records appended since the last read.  A record cut by the
 * end of the file is taken at the next read.
 */
struct jitdump {
	uint64_t dev, ino;
	uint64_t off; /* bytes taken (header, complete records) */
	bool swapped; /* written on a host of the other byte order: refused */
	uint64_t loads, moves, debug_infos, unwinding_infos;
	uint64_t unwinding_bytes;
	uint64_t bad;
	uint64_t bad_names; /* debug entries whose file name was not text (left out) */
	uint64_t reads;
	/* The last DEBUG_INFO, for the CODE_LOAD that follows it. */
	struct jit_line *pending;
	size_t npending;
	uint64_t pending_addr;
	/* Set by a reader that wants code ranges and unwind tables (m may then be NULL). */
	const struct jitdump_ops *ops;
	void *ops_ctx;
	/* The last UNWINDING_INFO's .eh_frame, for the CODE_LOAD that follows it (ops only). */
	unsigned char *eh_frame;
	size_t eh_size;
	uint64_t bad_unwinding; /* UNWINDING_INFO records whose sizes do not add up */
};

/*
 * Reads what is new in the jitdump at path: names into m (when not NULL),
 * code and unwind tables to jd->ops (when set).  A file replaced or shrunk
 * is read again from its start, m cleared and ops reset first.  0 or
 * -errno.
 */
int jitdump__read(struct jitdump *jd, const char *path, struct jitmap *m);
int jitdump__read_in(struct jitdump *jd, const char *root, const char *path, struct jitmap *m);

/*
 * Opens path for reading, a regular file whose last component is not a
 * symbolic link, as a process whose root directory is root (say
 * "/proc/PID/root") sees it: every link on the way is resolved inside that
 * root (openat2's RESOLVE_IN_ROOT), so a link in a container cannot lead
 * to the host's files.  Where openat2 is missing (before Linux 5.6) it
 * says so once and opens root + path.  root NULL: path as it is.  The
 * descriptor, or -errno (-EINVAL: not a regular file).
 */
struct stat;
int jit_open_in_root(const char *root, const char *path, struct stat *st);
void jitdump__fini(struct jitdump *jd);

/* Whether a mapping of this path may hold generated code (perf's rule). */
bool jit_mapping(const char *path);
/* Whether a mapped path is a jitdump file ("jit-PID.dump"). */
bool jit_dump_path(const char *path);

#endif
