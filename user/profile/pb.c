// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/pb.h"

#define PB_MAX_VARINT 10
#define PB_MAX_FIELD ((1u << 29) - 1)
/* Nested groups are skipped recursively; bound the stack a file can cost. */
#define PB_MAX_GROUP_DEPTH 32

static bool reserve(struct pb_buf *b, size_t extra)
{
	size_t cap;
	uint8_t *data;

	if (b->err)
		return false;
	if (extra <= b->cap - b->len)
		return true;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return false;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra)
		cap *= 2;
	data = realloc(b->data, cap);
	if (!data) {
		b->err = -ENOMEM;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

static size_t put_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		out[n++] = (uint8_t)v | 0x80;
	out[n++] = (uint8_t)v;
	return n;
}

void pb_varint(struct pb_buf *b, uint64_t v)
{
	if (reserve(b, PB_MAX_VARINT))
		b->len += put_varint(b->data + b->len, v);
}

static void tag(struct pb_buf *b, uint32_t field, enum pb_wire wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

void pb_uint64(struct pb_buf *b, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	tag(b, field, PB_VARINT);
	pb_varint(b, v);
}

void pb_int64(struct pb_buf *b, uint32_t field, int64_t v)
{
	/* int64, not sint64: negative values take ten bytes, as protoc's do. */
	pb_uint64(b, field, (uint64_t)v);
}

void pb_bool(struct pb_buf *b, uint32_t field, bool v)
{
	pb_uint64(b, field, v);
}

void pb_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len)
{
	tag(b, field, PB_LEN);
	pb_varint(b, len);
	if (len && reserve(b, len)) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
	}
}

size_t pb_begin(struct pb_buf *b)
{
	return b->len;
}

void pb_end(struct pb_buf *b, uint32_t field, size_t start)
{
	uint8_t head[2 * PB_MAX_VARINT];
	size_t body = b->len - start, n;

	if (b->err)
		return;
	/* The length is known only now: move the body to make room for it. */
	n = put_varint(head, (uint64_t)field << 3 | PB_LEN);
	n += put_varint(head + n, body);
	if (!reserve(b, n))
		return;
	memmove(b->data + start + n, b->data + start, body);
	memcpy(b->data + start, head, n);
	b->len += n;
}

void pb_packed_uint64(struct pb_buf *b, uint32_t field, const uint64_t *v, size_t n)
{
	size_t start, i;

	if (!n)
		return;
	start = pb_begin(b);
	for (i = 0; i < n; i++)
		pb_varint(b, v[i]);
	pb_end(b, field, start);
}

void pb_packed_int64(struct pb_buf *b, uint32_t field, const int64_t *v, size_t n)
{
	size_t start, i;

	if (!n)
		return;
	start = pb_begin(b);
	for (i = 0; i < n; i++)
		pb_varint(b, (uint64_t)v[i]);
	pb_end(b, field, start);
}

int pb_read_varint(struct pb_reader *r, uint64_t *v)
{
	uint64_t x = 0;
	int i;

	for (i = 0; i < PB_MAX_VARINT && r->p < r->end; i++) {
		uint8_t c = *r->p++;

		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	if (i < PB_MAX_VARINT)
		r->short_by = 1;
	return -EINVAL;
}

static int read_fixed(struct pb_reader *r, size_t n, uint64_t *v)
{
	size_t i;

	if ((size_t)(r->end - r->p) < n) {
		r->short_by = n - (size_t)(r->end - r->p);
		return -EINVAL;
	}
	*v = 0;
	for (i = 0; i < n; i++)
		*v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return 0;
}

static int read_field(struct pb_reader *r, struct pb_field *f, int depth);

/* Skips the fields of group f up to its end-group tag. */
static int skip_group(struct pb_reader *r, const struct pb_field *f, int depth)
{
	struct pb_field in;
	int ret;

	if (depth >= PB_MAX_GROUP_DEPTH)
		return -EINVAL;
	for (;;) {
		ret = read_field(r, &in, depth + 1);
		if (!ret) {
			r->short_by = 1; /* the group never ends */
			return -EINVAL;
		}
		if (ret < 0)
			return ret;
		if (in.wire == PB_EGROUP)
			return in.num == f->num ? 0 : -EINVAL;
	}
}

static int read_field(struct pb_reader *r, struct pb_field *f, int depth)
{
	uint64_t key, len;
	int err;

	if (r->p == r->end)
		return 0;
	err = pb_read_varint(r, &key);
	if (err)
		return err;
	if (key >> 3 == 0 || key >> 3 > PB_MAX_FIELD)
		return -EINVAL;
	f->num = (uint32_t)(key >> 3);
	f->wire = key & 7;
	f->val = 0;
	f->data = NULL;
	f->len = 0;
	switch (f->wire) {
	case PB_VARINT:
		err = pb_read_varint(r, &f->val);
		break;
	case PB_I64:
		err = read_fixed(r, 8, &f->val);
		break;
	case PB_I32:
		err = read_fixed(r, 4, &f->val);
		break;
	case PB_LEN:
		err = pb_read_varint(r, &len);
		if (err)
			return err;
		if (len > (uint64_t)(r->end - r->p)) {
			r->short_by = len - (uint64_t)(r->end - r->p);
			return -EINVAL;
		}
		f->data = r->p;
		f->len = len;
		r->p += len;
		break;
	case PB_SGROUP:
		err = skip_group(r, f, depth);
		break;
	case PB_EGROUP:
		break; /* the caller checks that a group is open */
	default:
		return -EINVAL;
	}
	return err ? err : 1;
}

int pb_next(struct pb_reader *r, struct pb_field *f)
{
	int ret = read_field(r, f, 0);

	return ret > 0 && f->wire == PB_EGROUP ? -EINVAL : ret;
}

int pb_next_partial(struct pb_reader *r, struct pb_field *f)
{
	const uint8_t *start = r->p;
	int ret;

	r->short_by = 0;
	ret = pb_next(r, f);
	if (ret < 0 && r->short_by) {
		r->p = start;
		return -EAGAIN;
	}
	return ret;
}

int pb_want_varint(const struct pb_field *f, uint64_t *v)
{
	if (f->wire != PB_VARINT)
		return -EINVAL;
	*v = f->val;
	return 0;
}

int pb_want_message(const struct pb_field *f, struct pb_reader *r)
{
	if (f->wire != PB_LEN)
		return -EINVAL;
	*r = pb_reader_init(f->data, f->len);
	return 0;
}

int pb_count_varints(const struct pb_field *f, size_t *n)
{
	size_t i, count = 0;

	if (f->wire == PB_VARINT) {
		*n = 1;
		return 0;
	}
	if (f->wire != PB_LEN)
		return -EINVAL;
	/* Every varint ends in the one byte that lacks the continuation bit. */
	for (i = 0; i < f->len; i++)
		count += !(f->data[i] & 0x80);
	if (f->len && (f->data[f->len - 1] & 0x80))
		return -EINVAL;
	*n = count;
	return 0;
}

int pb_read_varints(const struct pb_field *f, uint64_t *arr, size_t cap, size_t *n)
{
	struct pb_reader r;
	int err;

	if (f->wire == PB_VARINT) {
		if (*n >= cap)
			return -EINVAL;
		arr[(*n)++] = f->val;
		return 0;
	}
	if (f->wire != PB_LEN)
		return -EINVAL;
	r = pb_reader_init(f->data, f->len);
	while (r.p < r.end) {
		if (*n >= cap)
			return -EINVAL;
		err = pb_read_varint(&r, &arr[*n]);
		if (err)
			return err;
		(*n)++;
	}
	return 0;
}
