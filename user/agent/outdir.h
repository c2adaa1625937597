/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's output-directory sink: one gzipped pprof per service, type and
 * interval, DIR/<service>/<type>-<UTC start, 20261203T121500Z>.pb.gz, each
 * written to a temporary name in its directory and renamed, so a reader never
 * sees a partial file.
 *
 * Retention, oldest first: files whose start is more than max_age_s before
 * now, then the oldest while our files exceed max_disk bytes (the sum of their
 * sizes; the limit is strict, a profile larger than max_disk alone is removed
 * too).  0 disables a limit.  Only files named as above, in a service
 * directory, are ever removed, and the service directories they leave empty.
 * The index of our files is built by one scan at open (so a restarted agent
 * honours its predecessor's files, and removes the temporary files a crash
 * left) and kept in memory after that: one entry per file on disk.
 *
 * Thread-safe: every function takes the sink's lock.
 */
#ifndef BPFPROF_AGENT_OUTDIR_H
#define BPFPROF_AGENT_OUTDIR_H

#include <stddef.h>
#include <stdint.h>

struct outdir;

struct outdir_stats {
	uint64_t files_written;
	uint64_t bytes_written;
	uint64_t write_errors;	  /* writes that failed, ENOSPC included */
	uint64_t removed_by_age;  /* files removed by max_age */
	uint64_t removed_by_size; /* files removed by max_disk */
	uint64_t remove_errors;	  /* files that could not be removed (and are forgotten) */
	uint64_t files;		  /* our files on disk now */
	uint64_t bytes;		  /* and their total size */
};

/* Creates dir (and its parents) if need be and scans it; NULL after one line. */
struct outdir *outdir__open(const char *dir, uint64_t max_disk, int64_t max_age_s);
/*
 * Writes one profile (data: gzipped pprof) for service and type (a name of
 * [A-Za-z0-9_]), interval starting at start_wall_ns (CLOCK_REALTIME), then
 * prunes.  The same service, type and second again replaces the file.  On
 * any error (ENOSPC, EDQUOT, EIO...) no file is left behind, the error is
 * counted and returned as -errno; a line is printed when the error differs
 * from the previous write's, so a full disk does not flood the log.
 */
int outdir__write(struct outdir *o, const char *service, const char *type, int64_t start_wall_ns,
		  const void *data, size_t len);
/* Applies retention as of now_wall_ns (outdir__write does it after each write). */
void outdir__prune(struct outdir *o, int64_t now_wall_ns);
void outdir__stats(struct outdir *o, struct outdir_stats *out);
void outdir__close(struct outdir *o);

/*
 * The directory name of a service: printable ASCII but '/', a leading '.'
 * and anything else become '_', at most size - 1 (and 100) characters, never
 * empty ("_").  size must be at least 2.
 */
void outdir_component(const char *service, char *out, size_t size);

#endif
