// SPDX-License-Identifier: Apache-2.0
/*
 * Field numbers are those of google/pprof's proto/profile.proto; the
 * encoding follows Go's (github.com/google/pprof/profile/encode.go): zero
 * scalars left out, repeated scalars packed, string_table[0] = "".  The
 * decoder is in pprof_decode.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkostemp, asprintf */
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/log.h"
#include "profile/pb.h"
#include "profile/pprof.h"
#include "profile/profile.h"

static void encode_value_type(struct pb_buf *b, uint32_t field, const struct pf_value_type *vt)
{
	size_t start = pb_begin(b);

	pb_int64(b, 1, vt->type);
	pb_int64(b, 2, vt->unit);
	pb_end(b, field, start);
}

static void encode_sample(struct pb_buf *b, const struct profile *p, const struct pf_sample *s)
{
	size_t start = pb_begin(b), ls, i;

	pb_packed_uint64(b, 1, s->location_ids, s->nlocations);
	pb_packed_int64(b, 2, s->values, p->nsample_types);
	for (i = 0; i < s->nlabels; i++) {
		ls = pb_begin(b);
		pb_int64(b, 1, s->labels[i].key);
		pb_int64(b, 2, s->labels[i].str);
		pb_int64(b, 3, s->labels[i].num);
		pb_int64(b, 4, s->labels[i].num_unit);
		pb_end(b, 3, ls);
	}
	pb_end(b, 2, start);
}

static void encode_mapping(struct pb_buf *b, const struct pf_mapping *m)
{
	size_t start = pb_begin(b);

	pb_uint64(b, 1, m->id);
	pb_uint64(b, 2, m->memory_start);
	pb_uint64(b, 3, m->memory_limit);
	pb_uint64(b, 4, m->file_offset);
	pb_int64(b, 5, m->filename);
	pb_int64(b, 6, m->build_id);
	pb_bool(b, 7, m->has_functions);
	pb_bool(b, 8, m->has_filenames);
	pb_bool(b, 9, m->has_line_numbers);
	pb_bool(b, 10, m->has_inline_frames);
	pb_end(b, 3, start);
}

static void encode_location(struct pb_buf *b, const struct pf_location *l)
{
	size_t start = pb_begin(b), ls, i;

	pb_uint64(b, 1, l->id);
	pb_uint64(b, 2, l->mapping_id);
	pb_uint64(b, 3, l->address);
	for (i = 0; i < l->nlines; i++) {
		ls = pb_begin(b);
		pb_uint64(b, 1, l->lines[i].function_id);
		pb_int64(b, 2, l->lines[i].line);
		pb_end(b, 4, ls);
	}
	pb_bool(b, 5, l->is_folded);
	pb_end(b, 4, start);
}

static void encode_function(struct pb_buf *b, const struct pf_function *f)
{
	size_t start = pb_begin(b);

	pb_uint64(b, 1, f->id);
	pb_int64(b, 2, f->name);
	pb_int64(b, 3, f->system_name);
	pb_int64(b, 4, f->filename);
	pb_int64(b, 5, f->start_line);
	pb_end(b, 5, start);
}

int pprof_encode(const struct profile *p, uint8_t **buf, size_t *len)
{
	struct pb_buf b = { 0 };
	size_t i;

	for (i = 0; i < p->nsample_types; i++)
		encode_value_type(&b, 1, &p->sample_types[i]);
	for (i = 0; i < p->nsamples; i++)
		encode_sample(&b, p, &p->samples[i]);
	for (i = 0; i < p->nmappings; i++)
		encode_mapping(&b, &p->mappings[i]);
	for (i = 0; i < p->nlocations; i++)
		encode_location(&b, &p->locations[i]);
	for (i = 0; i < p->nfunctions; i++)
		encode_function(&b, &p->functions[i]);
	for (i = 0; i < p->nstrings; i++)
		pb_bytes(&b, 6, p->strings[i], strlen(p->strings[i]));
	pb_int64(&b, 7, p->drop_frames);
	pb_int64(&b, 8, p->keep_frames);
	pb_int64(&b, 9, p->time_nanos);
	pb_int64(&b, 10, p->duration_nanos);
	if (p->period_type.type || p->period_type.unit)
		encode_value_type(&b, 11, &p->period_type);
	pb_int64(&b, 12, p->period);
	pb_packed_int64(&b, 13, p->comments, p->ncomments);
	pb_int64(&b, 14, p->default_sample_type);
	if (b.err) {
		free(b.data);
		return b.err;
	}
	*buf = b.data;
	*len = b.len;
	return 0;
}

/* zlib counts in uInt; PPROF_MAX_SIZE keeps every buffer within one call. */
_Static_assert(PPROF_MAX_SIZE <= UINT_MAX, "PPROF_MAX_SIZE must fit a uInt");

int pprof_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen)
{
	z_stream zs = { 0 };
	uint8_t *buf = NULL;
	size_t cap;
	int ret, err = 0;

	if (len > PPROF_MAX_SIZE)
		return -EFBIG;
	/*
	 * windowBits 15 + 16: a gzip header and trailer, as RFC 1952 files
	 * have.  The fastest level, as Go's runtime/pprof uses: profiles are
	 * small, and the agent compresses several every interval.
	 */
	ret = deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (ret != Z_OK)
		return ret == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	cap = deflateBound(&zs, len);
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = len;
	zs.next_out = buf;
	zs.avail_out = cap;
	/* deflateBound() is an upper bound: one call finishes. */
	ret = deflate(&zs, Z_FINISH);
	if (ret != Z_STREAM_END) {
		err = ret == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
		goto cleanup;
	}
	*out = buf;
	*outlen = zs.total_out;
	buf = NULL;
cleanup:
	deflateEnd(&zs);
	free(buf);
	return err;
}

static bool is_gzip(const uint8_t *in, size_t len)
{
	return len >= 2 && in[0] == 0x1f && in[1] == 0x8b;
}

/* Output handed to inflate() per call: a check looks at the output this often. */
#define INFLATE_CHUNK ((size_t)1 << 20)

struct inflate_out {
	uint8_t *buf;
	size_t len, cap, max;
	pprof_check_fn check;
	void *ctx;
};

static int grow_out(struct inflate_out *o)
{
	uint8_t *grown;
	size_t cap;

	if (o->cap >= o->max)
		return -EFBIG; /* or a decompression bomb */
	cap = o->cap > o->max / 2 ? o->max : o->cap * 2;
	grown = realloc(o->buf, cap);
	if (!grown)
		return -ENOMEM;
	o->buf = grown;
	o->cap = cap;
	return 0;
}

/* Inflates all of zs's input into o, growing it; members may be concatenated. */
static int inflate_all(z_stream *zs, struct inflate_out *o)
{
	size_t room;
	int ret, err;

	for (;;) {
		if (o->len == o->cap && (err = grow_out(o)))
			return err;
		room = o->cap - o->len < INFLATE_CHUNK ? o->cap - o->len : INFLATE_CHUNK;
		zs->next_out = o->buf + o->len;
		zs->avail_out = room;
		ret = inflate(zs, Z_NO_FLUSH);
		o->len += room - zs->avail_out;
		if (o->check && room != zs->avail_out && (err = o->check(o->ctx, o->buf, o->len)))
			return err;
		if (ret == Z_STREAM_END) {
			if (!zs->avail_in)
				return 0;
			/* Like gzip(1) and Go, read concatenated members as one. */
			if (!is_gzip(zs->next_in, zs->avail_in) || inflateReset(zs) != Z_OK)
				return -EINVAL;
			continue;
		}
		if (ret == Z_MEM_ERROR)
			return -ENOMEM;
		/* Z_BUF_ERROR with room left: the input ended mid-stream. */
		if ((ret != Z_OK && ret != Z_BUF_ERROR) || (ret == Z_BUF_ERROR && zs->avail_out))
			return -EINVAL;
	}
}

int pprof_gunzip_max(const uint8_t *in, size_t len, size_t max, pprof_check_fn check, void *ctx,
		     uint8_t **out, size_t *outlen)
{
	struct inflate_out o = { .max = max, .check = check, .ctx = ctx };
	z_stream zs = { 0 };
	int err;

	if (len > PPROF_MAX_SIZE)
		return -EFBIG;
	if (!is_gzip(in, len)) {
		if (len > max)
			return -EFBIG;
		o.buf = malloc(len ? len : 1);
		if (!o.buf)
			return -ENOMEM;
		memcpy(o.buf, in, len);
		err = check && len ? check(ctx, o.buf, len) : 0;
		if (err) {
			free(o.buf);
			return err;
		}
		*out = o.buf;
		*outlen = len;
		return 0;
	}
	o.cap = len < 16384 ? 65536 : len * 4;
	if (o.cap > max)
		o.cap = max;
	o.buf = malloc(o.cap ? o.cap : 1);
	if (!o.buf)
		return -ENOMEM;
	/* windowBits 15 + 32: gzip or zlib, told apart by the header. */
	if (inflateInit2(&zs, 15 + 32) != Z_OK) {
		free(o.buf);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = len;
	err = inflate_all(&zs, &o);
	inflateEnd(&zs);
	if (err) {
		free(o.buf);
		return err;
	}
	*out = o.buf;
	*outlen = o.len; /* not total_out: inflateReset() clears it */
	return 0;
}

int pprof_gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen)
{
	return pprof_gunzip_max(in, len, PPROF_MAX_SIZE, NULL, NULL, out, outlen);
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

/* The directory of path, malloc'd ("." for a bare name). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, slash - path);
}

/*
 * The file a profile is written into before it gets its name: unnamed
 * (O_TMPFILE) where the file system allows, so that a killed bpfprof leaves
 * nothing behind, else path.tmpXXXXXX.  Same directory as path, so that
 * rename() is atomic.
 */
static int out_create(struct pprof_out *o, const char *path)
{
	struct stat st;
	char *dir;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	o->path = strdup(path);
	dir = dir_of(path);
	if (!o->path || !dir) {
		free(dir);
		return -ENOMEM;
	}
	o->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (o->fd >= 0) {
		free(dir);
		return 0;
	}
	if (asprintf(&o->tmp, "%s.tmpXXXXXX", path) < 0) {
		o->tmp = NULL;
		free(dir);
		return -ENOMEM;
	}
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		int err = -errno;

		/* The directory is there but takes no new file (/proc, say): not writable. */
		if (err == -ENOENT && stat(dir, &st) == 0)
			err = -EACCES;
		free(o->tmp);
		o->tmp = NULL; /* nothing to remove */
		free(dir);
		return err;
	}
	free(dir);
	return 0;
}

/* A block of the file system's, held from the start for the profile. */
#define OUT_PROBE_SIZE 4096

int pprof_out_open(struct pprof_out *o, const char *path)
{
	static const uint8_t zeros[OUT_PROBE_SIZE];
	int err;

	err = out_create(o, path);
	if (!err)
		err = write_all(o->fd, zeros, sizeof(zeros));
	/* Some file systems (NFS, delayed allocation) only say ENOSPC here. */
	if (!err && fsync(o->fd))
		err = -errno;
	if (err)
		pprof_out_close(o);
	return err;
}

/* Gives the unnamed file a temporary name next to path. */
static int out_name(struct pprof_out *o)
{
	char fdpath[64];
	unsigned int seed = getpid() ^ (unsigned int)(uintptr_t)o;
	int i;

	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", o->fd);
	for (i = 0; i < 100; i++) {
		free(o->tmp);
		if (asprintf(&o->tmp, "%s.tmp%08x", o->path, rand_r(&seed)) < 0) {
			o->tmp = NULL;
			return -ENOMEM;
		}
		if (linkat(AT_FDCWD, fdpath, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	free(o->tmp);
	o->tmp = NULL;
	return -errno;
}

/* The whole gzip into o's file (over the block written at open), then its name. */
static int out_commit(struct pprof_out *o, const uint8_t *gz, size_t len)
{
	bool named = o->tmp != NULL;
	int err = 0;

	/* Over the block held since the start, so a small profile needs no new space. */
	if (lseek(o->fd, 0, SEEK_SET) < 0)
		err = -errno;
	if (!err)
		err = write_all(o->fd, gz, len);
	if (!err && ftruncate(o->fd, len))
		err = -errno;
	/* mkstemp() makes 0600; a profile is no secret and is often copied. */
	if (!err && (fchmod(o->fd, 0644) || fsync(o->fd)))
		err = -errno;
	if (!err && !named)
		err = out_name(o);
	if (close(o->fd) && !err)
		err = -errno;
	o->fd = -1;
	if (!err && rename(o->tmp, o->path))
		err = -errno;
	if (!err) {
		free(o->tmp);
		o->tmp = NULL; /* it is the profile now */
	}
	return err;
}

/* $TMPDIR/bpfprof-XXXXXX-NAME: where a profile goes when its own place failed. */
static char *save_elsewhere(const char *path, const uint8_t *gz, size_t len)
{
	const char *dir = getenv("TMPDIR"), *base = strrchr(path, '/');
	char *name;
	int fd, err;

	base = base ? base + 1 : path;
	if (!dir || !*dir)
		dir = "/tmp";
	if (asprintf(&name, "%s/bpfprof-XXXXXX-%s", dir, base) < 0)
		return NULL;
	fd = mkostemps(name, strlen(base) + 1, O_CLOEXEC);
	if (fd < 0) {
		free(name);
		return NULL;
	}
	err = write_all(fd, gz, len);
	if (!err && (fchmod(fd, 0644) || fsync(fd)))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err) {
		unlink(name);
		free(name);
		return NULL;
	}
	return name;
}

int pprof_encode_gz(const struct profile *p, uint8_t **gz, size_t *gzlen)
{
	uint8_t *raw = NULL;
	size_t rawlen;
	int err;

	err = pprof_encode(p, &raw, &rawlen);
	if (!err)
		err = pprof_gzip(raw, rawlen, gz, gzlen);
	free(raw);
	return err;
}

int pprof_out_write(struct pprof_out *o, const char *path, const struct profile *p, char **saved)
{
	uint8_t *gz = NULL;
	size_t gzlen;
	int err;

	*saved = NULL;
	err = pprof_encode_gz(p, &gz, &gzlen);
	if (err)
		return err;
	/* Not opened, or for another path (heap --interval numbers the last one). */
	if (o->fd < 0 || !o->path || strcmp(o->path, path)) {
		pprof_out_close(o);
		err = out_create(o, path);
	}
	if (!err)
		err = out_commit(o, gz, gzlen);
	if (err)
		*saved = save_elsewhere(path, gz, gzlen);
	free(gz);
	return err;
}

void pprof_out_close(struct pprof_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	o->fd = -1;
	o->tmp = NULL;
	o->path = NULL;
}

int pprof_write_file(const struct profile *p, const char *path)
{
	struct pprof_out o = PPROF_OUT_INIT;
	uint8_t *gz = NULL;
	size_t gzlen;
	int err;

	err = pprof_encode_gz(p, &gz, &gzlen);
	if (!err)
		err = out_create(&o, path);
	if (!err)
		err = out_commit(&o, gz, gzlen);
	pprof_out_close(&o);
	free(gz);
	return err;
}

static int read_all(int fd, size_t max, uint8_t **out, size_t *outlen)
{
	size_t len = 0, cap = 65536;
	uint8_t *buf = malloc(cap), *grown;
	ssize_t n;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	/* To the end, not st_size: the file may be a pipe, or still growing. */
	for (;;) {
		if (len > max) {
			err = -EFBIG;
			goto cleanup;
		}
		if (len == cap) {
			grown = cap <= PPROF_MAX_SIZE ? realloc(buf, cap * 2) : NULL;
			if (!grown) {
				err = cap <= PPROF_MAX_SIZE ? -ENOMEM : -EFBIG;
				goto cleanup;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto cleanup;
		}
		if (!n)
			break;
		len += n;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
cleanup:
	free(buf);
	return err;
}

int pprof_read_file_max(const char *path, size_t max_mem, struct profile **out)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = read_all(fd, max_mem, &raw, &rawlen);
	close(fd);
	if (!err)
		err = pprof_decode_input(raw, rawlen, max_mem, out);
	free(raw);
	return err;
}

int pprof_read_file(const char *path, struct profile **out)
{
	return pprof_read_file_max(path, PPROF_DEFAULT_MAX_MEM, out);
}
