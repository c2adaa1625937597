// SPDX-License-Identifier: Apache-2.0
/*
 * jitdump, as Linux's tools/perf/Documentation/jitdump-specification.txt
 * describes it: a file header, then records of a common header (id, total
 * size, timestamp) and a body.  Kept: what names code (code loads and
 * moves, and the debug info, source lines, that precedes a load), and for
 * a reader with ops (the unwinder) the unwinding info that precedes a load.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/jit.h"

#define JITDUMP_MAGIC 0x4A695444u	  /* "JiTD" as written on this host */
#define JITDUMP_MAGIC_SWAPPED 0x4454694Au /* written on a host of the other byte order */
#define JITDUMP_HEADER_MIN 40
#define JITDUMP_RECORD_HEADER 16
#define JITDUMP_MAX_RECORD (64u << 20)

enum {
	JIT_CODE_LOAD = 0,
	JIT_CODE_MOVE = 1,
	JIT_CODE_DEBUG_INFO = 2,
	JIT_CODE_CLOSE = 3,
	JIT_CODE_UNWINDING_INFO = 4,
};

/*
 * perf inject places each function after a 64-byte ELF header and writers
 * (V8, the JVMTI agent) add that offset to their debug entries' addresses.
 */
#define JITDUMP_ELF_TEXT_OFFSET 64

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void drop_pending(struct jitdump *jd)
{
	free(jd->pending);
	jd->pending = NULL;
	jd->npending = 0;
}

static void drop_eh_frame(struct jitdump *jd)
{
	free(jd->eh_frame);
	jd->eh_frame = NULL;
	jd->eh_size = 0;
}

void jitdump__fini(struct jitdump *jd)
{
	drop_pending(jd);
	drop_eh_frame(jd);
}

/* A NUL-terminated string inside [p, lim): its length, or -1. */
static long str_in(const unsigned char *p, const unsigned char *lim)
{
	const unsigned char *z = memchr(p, 0, lim - p);

	return z ? z - p : -1;
}

/*
 * Whether a debug entry's file name can be one: UTF-8 without control
 * characters.  Node 20's V8 writes some names from freed memory.
 */
static bool plausible_name(const unsigned char *s, long len)
{
	long i = 0;
	int follow;

	while (i < len) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0 && s[i] >= 0xc2)
			follow = 1;
		else if ((s[i] & 0xf0) == 0xe0)
			follow = 2;
		else if ((s[i] & 0xf8) == 0xf0 && s[i] <= 0xf4)
			follow = 3;
		else
			return false;
		if (len - i <= follow)
			return false;
		for (i++; follow > 0; follow--, i++)
			if ((s[i] & 0xc0) != 0x80)
				return false;
	}
	return true;
}

static int debug_info(struct jitdump *jd, struct jitmap *m, const unsigned char *p,
		      const unsigned char *lim)
{
	uint64_t code_addr, nr, i;
	struct jit_line *lines;
	long len;

	if (lim - p < 16)
		return -EINVAL;
	code_addr = get64(p);
	nr = get64(p + 8);
	p += 16;
	if (nr > (uint64_t)(lim - p) / 17)
		return -EINVAL;
	lines = calloc(nr ? nr : 1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		if (lim - p < 17 || (len = str_in(p + 16, lim)) < 0) {
			free(lines);
			return -EINVAL;
		}
		lines[i].addr = get64(p);
		if (lines[i].addr >= code_addr + JITDUMP_ELF_TEXT_OFFSET)
			lines[i].addr -= JITDUMP_ELF_TEXT_OFFSET;
		lines[i].line = (int)get32(p + 8);
		lines[i].file = m && len && plausible_name(p + 16, len)
					? jitmap__intern(m, (const char *)p + 16, len)
					: NULL;
		jd->bad_names += m && len && !lines[i].file;
		p += 16 + len + 1;
	}
	drop_pending(jd);
	jd->pending = lines;
	jd->npending = nr;
	jd->pending_addr = code_addr;
	jd->debug_infos++;
	return 0;
}

static int code_load(struct jitdump *jd, struct jitmap *m, const unsigned char *p,
		     const unsigned char *lim)
{
	uint64_t code_addr, code_size;
	size_t nlines = 0;
	long len;
	int err;

	/* pid, tid, vma, code_addr, code_size, code_index, name, code */
	if (lim - p < 41 || (len = str_in(p + 40, lim)) < 0)
		return -EINVAL;
	code_addr = get64(p + 16);
	code_size = get64(p + 24);
	if (jd->pending && jd->pending_addr == code_addr)
		nlines = jd->npending;
	if (jd->ops && code_size)
		jd->ops->load(jd->ops_ctx, code_addr, code_size, jd->eh_frame, jd->eh_size);
	err = m ? jitmap__add(m, code_addr, code_size, (const char *)p + 40, len, jd->pending,
			      nlines)
		: (code_size ? 0 : -EINVAL);
	jitdump__fini(jd);
	if (!err)
		jd->loads++;
	return err == -EINVAL ? 0 : err; /* an empty function names nothing */
}

/*
 * unwinding_size, eh_frame_hdr_size, mapped_size, then unwinding_size
 * bytes: the .eh_frame, its .eh_frame_hdr last.  It describes the code of
 * the CODE_LOAD that follows; only a reader with ops keeps it.
 */
static int unwinding_info(struct jitdump *jd, const unsigned char *p, const unsigned char *lim)
{
	uint64_t size, hdr_size;

	if (lim - p < 24)
		return -EINVAL;
	size = get64(p);
	hdr_size = get64(p + 8);
	jd->unwinding_infos++;
	jd->unwinding_bytes += size;
	drop_eh_frame(jd);
	if (size > (uint64_t)(lim - p - 24) || hdr_size > size) {
		jd->bad_unwinding++;
		return 0;
	}
	if (!jd->ops || size == hdr_size)
		return 0; /* nothing but a header: no table (V8 writes that for code without one) */
	jd->eh_frame = malloc(size - hdr_size);
	if (!jd->eh_frame)
		return -ENOMEM;
	memcpy(jd->eh_frame, p + 24, size - hdr_size);
	jd->eh_size = size - hdr_size;
	return 0;
}

static int code_move(struct jitdump *jd, struct jitmap *m, const unsigned char *p,
		     const unsigned char *lim)
{
	/* pid, tid, vma, old_code_addr, new_code_addr, code_size, code_index */
	if (lim - p < 48)
		return -EINVAL;
	if (jd->ops)
		jd->ops->move(jd->ops_ctx, get64(p + 16), get64(p + 24), get64(p + 32));
	if (!m || jitmap__move(m, get64(p + 16), get64(p + 24), get64(p + 32)) == 0)
		jd->moves++;
	return 0;
}

static int record(struct jitdump *jd, struct jitmap *m, uint32_t id, const unsigned char *p,
		  const unsigned char *lim)
{
	switch (id) {
	case JIT_CODE_LOAD:
		return code_load(jd, m, p, lim);
	case JIT_CODE_MOVE:
		return code_move(jd, m, p, lim);
	case JIT_CODE_DEBUG_INFO:
		return debug_info(jd, m, p, lim);
	case JIT_CODE_UNWINDING_INFO:
		return unwinding_info(jd, p, lim);
	default:
		return 0; /* CODE_CLOSE and ids this reader does not know */
	}
}

static int read_header(struct jitdump *jd, int fd)
{
	unsigned char h[JITDUMP_HEADER_MIN];
	uint32_t size;

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EAGAIN; /* not written yet */
	if (get32(h) == JITDUMP_MAGIC_SWAPPED) {
		jd->swapped = true;
		return -EPROTONOSUPPORT;
	}
	if (get32(h) != JITDUMP_MAGIC)
		return -EINVAL;
	size = get32(h + 8);
	if (size < JITDUMP_HEADER_MIN || size > 4096)
		return -EINVAL;
	jd->off = size;
	return 0;
}

int jitdump__read(struct jitdump *jd, const char *path, struct jitmap *m)
{
	return jitdump__read_in(jd, NULL, path, m);
}

int jitdump__read_in(struct jitdump *jd, const char *root, const char *path, struct jitmap *m)
{
	unsigned char *buf = NULL, hdr[JITDUMP_RECORD_HEADER];
	uint32_t id, size;
	struct stat st;
	int fd, err = 0;

	fd = jit_open_in_root(root, path, &st);
	if (fd < 0)
		return fd;
	if (!jd->off || (uint64_t)st.st_dev != jd->dev || (uint64_t)st.st_ino != jd->ino ||
	    (uint64_t)st.st_size < jd->off) {
		if (m)
			jitmap__clear(m);
		if (jd->ops && jd->off)
			jd->ops->reset(jd->ops_ctx);
		jitdump__fini(jd);
		jd->dev = st.st_dev;
		jd->ino = st.st_ino;
		jd->off = 0;
		err = read_header(jd, fd);
		if (err) {
			close(fd);
			return err == -EAGAIN ? 0 : err;
		}
	}
	jd->reads++;
	for (;;) {
		/* A record cut by the end of the file waits for the next read. */
		if (pread(fd, hdr, sizeof(hdr), jd->off) != (ssize_t)sizeof(hdr))
			break;
		id = get32(hdr);
		size = get32(hdr + 4);
		if (size < JITDUMP_RECORD_HEADER || size > JITDUMP_MAX_RECORD) {
			/* Framing lost: nothing after this can be trusted. */
			jd->bad++;
			err = -EINVAL;
			break;
		}
		if (jd->off + size > (uint64_t)st.st_size) {
			if (fstat(fd, &st) || jd->off + size > (uint64_t)st.st_size)
				break;
		}
		free(buf);
		buf = malloc(size);
		if (!buf) {
			err = -ENOMEM;
			break;
		}
		if (pread(fd, buf, size, jd->off) != (ssize_t)size)
			break;
		err = record(jd, m, id, buf + JITDUMP_RECORD_HEADER, buf + size);
		if (err == -ENOMEM)
			break;
		if (err)
			jd->bad++;
		err = 0;
		jd->off += size;
	}
	free(buf);
	close(fd);
	return err;
}
