/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protocol buffers wire format, the little of it profile.proto needs: a
 * writer into a growing buffer and a bounds-checked reader of fields.
 */
#ifndef BPFPROF_PB_H
#define BPFPROF_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pb_wire {
	PB_VARINT = 0,
	PB_I64 = 1,
	PB_LEN = 2,
	PB_SGROUP = 3,
	PB_EGROUP = 4,
	PB_I32 = 5,
};

/*
 * Writer.  Errors are sticky (the first one is kept in err and later writes
 * do nothing), so an encoder checks once at the end.
 */
struct pb_buf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

void pb_varint(struct pb_buf *b, uint64_t v);
/* A varint field; proto3 leaves zero values out. */
void pb_uint64(struct pb_buf *b, uint32_t field, uint64_t v);
void pb_int64(struct pb_buf *b, uint32_t field, int64_t v);
void pb_bool(struct pb_buf *b, uint32_t field, bool v);
/* A length-delimited field, written even when empty. */
void pb_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len);
/* Packed repeated varints; nothing when n is 0. */
void pb_packed_uint64(struct pb_buf *b, uint32_t field, const uint64_t *v, size_t n);
void pb_packed_int64(struct pb_buf *b, uint32_t field, const int64_t *v, size_t n);
/*
 * A nested message: write its fields after pb_begin(), then pb_end() puts
 * the tag and length in front of them.
 */
size_t pb_begin(struct pb_buf *b);
void pb_end(struct pb_buf *b, uint32_t field, size_t start);

/* Reader over [p, end). */
struct pb_reader {
	const uint8_t *p, *end;
	/* Set when a read ran past end: how many more bytes it wanted, at least. */
	uint64_t short_by;
};

struct pb_field {
	uint32_t num;
	enum pb_wire wire;
	uint64_t val;	     /* PB_VARINT, PB_I64, PB_I32 */
	const uint8_t *data; /* PB_LEN */
	size_t len;
};

static inline struct pb_reader pb_reader_init(const void *data, size_t len)
{
	struct pb_reader r = { data, (const uint8_t *)data + len, 0 };

	return r;
}

int pb_read_varint(struct pb_reader *r, uint64_t *v);
/*
 * Reads the next field: 1 when one was read, 0 at the end, -EINVAL when the
 * input is malformed or truncated.  Groups (deprecated, never in
 * profile.proto) are skipped whole and returned with wire PB_SGROUP.
 */
int pb_next(struct pb_reader *r, struct pb_field *f);
/*
 * pb_next() over input that is still arriving: -EAGAIN, with r unchanged
 * and r->short_by set, when the next field runs past end.
 */
int pb_next_partial(struct pb_reader *r, struct pb_field *f);
/* The value of a scalar field, -EINVAL unless it is a varint. */
int pb_want_varint(const struct pb_field *f, uint64_t *v);
/* A nested message's fields, -EINVAL unless f is length-delimited. */
int pb_want_message(const struct pb_field *f, struct pb_reader *r);
/*
 * A repeated varint field comes packed (PB_LEN) or one value at a time.
 * pb_count_varints() counts the values in one occurrence; pb_read_varints()
 * appends them to arr, which holds *n of cap, and advances *n.
 */
int pb_count_varints(const struct pb_field *f, size_t *n);
int pb_read_varints(const struct pb_field *f, uint64_t *arr, size_t cap, size_t *n);

#endif
