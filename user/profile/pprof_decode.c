// SPDX-License-Identifier: Apache-2.0
/*
 * The profile.proto decoder.  It is fed arbitrary files: every read is
 * bounds-checked, and what it returns is checked the way Go's pprof checks
 * it (CheckValid), so readers can trust string indexes, sample values and
 * location and function ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "profile/pb.h"
#include "profile/pprof.h"
#include "profile/profile.h"

/*
 * Decoding makes two passes over each message: the first checks framing
 * and counts repeated fields, the second fills arrays allocated exactly, so
 * allocations stay proportional to the input.
 */
struct counts {
	size_t sample_types, samples, mappings, locations, functions, strings, comments;
};

/*
 * Decodes a message made only of varint fields 1..n into v[0..n-1]; other
 * fields are skipped, a non-varint among the first n is malformed.
 */
static int decode_flat(const struct pb_field *msg, uint64_t *v, uint32_t n)
{
	struct pb_reader r;
	struct pb_field f;
	int ret;

	ret = pb_want_message(msg, &r);
	while (!ret && (ret = pb_next(&r, &f)) > 0) {
		if (f.num <= n)
			ret = pb_want_varint(&f, &v[f.num - 1]);
		else
			ret = 0;
	}
	return ret;
}

static int decode_value_type(const struct pb_field *msg, struct pf_value_type *vt)
{
	uint64_t v[2] = { 0 };
	int err = decode_flat(msg, v, 2);

	vt->type = (int64_t)v[0];
	vt->unit = (int64_t)v[1];
	return err;
}

static int decode_label(const struct pb_field *msg, struct pf_label *l)
{
	uint64_t v[4] = { 0 };
	int err = decode_flat(msg, v, 4);

	l->key = (int64_t)v[0];
	l->str = (int64_t)v[1];
	l->num = (int64_t)v[2];
	l->num_unit = (int64_t)v[3];
	return err;
}

/* A sample's location ids, values and labels, counted. */
static int count_sample(const struct pb_field *msg, size_t *nloc, size_t *nval, size_t *nlab)
{
	struct pb_reader r;
	struct pb_field f;
	size_t k;
	int ret;

	*nloc = *nval = *nlab = 0;
	ret = pb_want_message(msg, &r);
	while (!ret && (ret = pb_next(&r, &f)) > 0) {
		ret = 0;
		k = 0;
		if (f.num == 1 || f.num == 2) {
			ret = pb_count_varints(&f, &k);
			*(f.num == 1 ? nloc : nval) += k;
		} else if (f.num == 3) {
			ret = f.wire == PB_LEN ? 0 : -EINVAL;
			(*nlab)++;
		}
	}
	return ret;
}

static int decode_sample(const struct pb_field *msg, struct pf_sample *s, size_t nvalues)
{
	size_t nloc, nval, nlab, got = 0;
	struct pb_reader r;
	struct pb_field f;
	int ret;

	ret = count_sample(msg, &nloc, &nval, &nlab);
	if (ret)
		return ret;
	/* As Go's CheckValid(): one value for each sample type, and some types. */
	if (!nvalues || nval != nvalues)
		return -EINVAL;
	s->location_ids = nloc ? calloc(nloc, sizeof(*s->location_ids)) : NULL;
	s->values = calloc(nval, sizeof(*s->values));
	s->labels = nlab ? calloc(nlab, sizeof(*s->labels)) : NULL;
	if ((nloc && !s->location_ids) || !s->values || (nlab && !s->labels))
		return -ENOMEM;
	pb_want_message(msg, &r);
	while ((ret = pb_next(&r, &f)) > 0) {
		ret = 0;
		if (f.num == 1)
			ret = pb_read_varints(&f, s->location_ids, nloc, &s->nlocations);
		else if (f.num == 2) /* int64 and uint64 may alias */
			ret = pb_read_varints(&f, (uint64_t *)s->values, nval, &got);
		else if (f.num == 3)
			ret = decode_label(&f, &s->labels[s->nlabels++]);
		if (ret)
			return ret;
	}
	return ret;
}

static int decode_mapping(const struct pb_field *msg, struct pf_mapping *m)
{
	uint64_t v[10] = { 0 };
	int err = decode_flat(msg, v, 10);

	m->id = v[0];
	m->memory_start = v[1];
	m->memory_limit = v[2];
	m->file_offset = v[3];
	m->filename = (int64_t)v[4];
	m->build_id = (int64_t)v[5];
	m->has_functions = v[6];
	m->has_filenames = v[7];
	m->has_line_numbers = v[8];
	m->has_inline_frames = v[9];
	return err;
}

/* A location's lines, counted, and its id. */
static int count_location(const struct pb_field *msg, size_t *nlines, uint64_t *id)
{
	struct pb_reader r;
	struct pb_field f;
	int ret;

	*nlines = 0;
	*id = 0;
	ret = pb_want_message(msg, &r);
	while (!ret && (ret = pb_next(&r, &f)) > 0) {
		ret = 0;
		if (f.num == 4)
			ret = f.wire == PB_LEN ? 0 : -EINVAL;
		else if (f.num == 1)
			ret = pb_want_varint(&f, id);
		*nlines += f.num == 4;
	}
	return ret;
}

static int decode_location(const struct pb_field *msg, struct pf_location *l)
{
	uint64_t v[2];
	size_t nlines;
	struct pb_reader r;
	struct pb_field f;
	int ret;

	ret = count_location(msg, &nlines, &v[0]);
	if (ret)
		return ret;
	l->lines = nlines ? calloc(nlines, sizeof(*l->lines)) : NULL;
	if (nlines && !l->lines)
		return -ENOMEM;
	pb_want_message(msg, &r);
	while ((ret = pb_next(&r, &f)) > 0) {
		ret = 0;
		if (f.num == 1)
			ret = pb_want_varint(&f, &l->id);
		else if (f.num == 2)
			ret = pb_want_varint(&f, &l->mapping_id);
		else if (f.num == 3)
			ret = pb_want_varint(&f, &l->address);
		else if (f.num == 5) {
			v[0] = 0;
			ret = pb_want_varint(&f, &v[0]);
			l->is_folded = v[0];
		} else if (f.num == 4) {
			v[0] = v[1] = 0;
			ret = decode_flat(&f, v, 2);
			l->lines[l->nlines].function_id = v[0];
			l->lines[l->nlines++].line = (int64_t)v[1];
		}
		if (ret)
			return ret;
	}
	return ret;
}

static int decode_function(const struct pb_field *msg, struct pf_function *fn)
{
	uint64_t v[5] = { 0 };
	int err = decode_flat(msg, v, 5);

	fn->id = v[0];
	fn->name = (int64_t)v[1];
	fn->system_name = (int64_t)v[2];
	fn->filename = (int64_t)v[3];
	fn->start_line = (int64_t)v[4];
	return err;
}

static int decode_string(const struct pb_field *f, struct profile *p)
{
	char *s;

	if (f->wire != PB_LEN)
		return -EINVAL;
	s = malloc(f->len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, f->data, f->len);
	s[f->len] = '\0';
	p->strings[p->nstrings++] = s;
	return 0;
}

/*
 * What a decoded element allocates on its own, as glibc's malloc() counts:
 * chunks of 16 bytes, 32 at least.
 */
static size_t alloc_cost(size_t n)
{
	size_t c = (n + 8 + 15) & ~(size_t)15;

	return !n ? 0 : c < 32 ? 32 : c;
}

/* An id's share of profile__index_ids()'s tables, when the ids are sparse. */
#define INDEX_COST 32

/*
 * The first pass: checks the framing of each complete top-level field,
 * counts the repeated ones and adds up what decoding them allocates, with
 * what the input takes meanwhile, against the limit.  It runs as the input
 * is inflated, so a bomb is refused early, with little memory spent.
 */
struct scan {
	struct counts c;
	size_t pos;    /* top-level bytes scanned */
	size_t mem;    /* what decoding them allocates */
	size_t in_len; /* the compressed input, held meanwhile */
	size_t max;
};

/* The id of a mapping or a function: 0 (absent) is Go's reserved id, refused early. */
static int scan_id(const struct pb_field *f)
{
	uint64_t id = 0;
	int err = decode_flat(f, &id, 1);

	return err ? err : id ? 0 : -EINVAL;
}

/*
 * Elements that cost memory and mean nothing are refused: a string table
 * repeating "" (Go's and our encoders write each string once) and mappings,
 * locations and functions without an id (which decoding refuses anyway).
 */
static int scan_string(struct scan *s, const struct pb_field *f)
{
	if (f->wire != PB_LEN)
		return -EINVAL;
	if (!s->c.strings && f->len) {
		pr_debug("pprof: string_table[0] is not empty\n");
		return -EINVAL;
	}
	if (s->c.strings && !f->len) {
		pr_debug("pprof: string_table repeats \"\"\n");
		return -EINVAL;
	}
	s->c.strings++;
	s->mem += sizeof(char *) + alloc_cost(f->len + 1);
	return 0;
}

static int scan_field(struct scan *s, const struct pb_field *f)
{
	size_t n, nloc, nval, nlab;
	uint64_t id;
	int err = 0;

	switch (f->num) {
	case 1:
		s->c.sample_types++;
		s->mem += sizeof(struct pf_value_type);
		break;
	case 2:
		err = count_sample(f, &nloc, &nval, &nlab);
		s->c.samples++;
		s->mem += sizeof(struct pf_sample) + alloc_cost(nloc * sizeof(uint64_t)) +
			  alloc_cost(nval * sizeof(int64_t)) +
			  alloc_cost(nlab * sizeof(struct pf_label));
		break;
	case 3:
		err = scan_id(f);
		s->c.mappings++;
		s->mem += sizeof(struct pf_mapping) + INDEX_COST;
		break;
	case 4:
		err = count_location(f, &n, &id);
		if (!err && !id)
			err = -EINVAL;
		s->c.locations++;
		s->mem += sizeof(struct pf_location) + alloc_cost(n * sizeof(struct pf_line)) +
			  INDEX_COST;
		break;
	case 5:
		err = scan_id(f);
		s->c.functions++;
		s->mem += sizeof(struct pf_function) + INDEX_COST;
		break;
	case 6:
		err = scan_string(s, f);
		break;
	case 13:
		err = pb_count_varints(f, &n);
		s->c.comments += n;
		s->mem += n * sizeof(int64_t);
		break;
	}
	return err;
}

/* Whether holding the input, len bytes of it inflated and the decoded profile fits. */
static bool scan_fits(const struct scan *s, size_t len, uint64_t more)
{
	size_t used = s->in_len + len;

	return used >= s->in_len && used <= s->max && s->mem <= s->max - used &&
	       more <= s->max - used - s->mem;
}

/*
 * Scans the fields of buf[0..len) past those scanned already.  Until the
 * input is complete, a field cut at len waits for more; one whose length
 * alone would break the limit is refused now.
 */
static int scan(struct scan *s, const uint8_t *buf, size_t len, bool complete)
{
	struct pb_reader r = pb_reader_init(buf + s->pos, len - s->pos);
	struct pb_field f;
	int ret;

	while ((ret = complete ? pb_next(&r, &f) : pb_next_partial(&r, &f)) > 0) {
		ret = scan_field(s, &f);
		if (ret)
			return ret;
		s->pos = r.p - buf;
	}
	if (ret == -EAGAIN)
		return scan_fits(s, len, r.short_by) ? 0 : -EFBIG;
	if (!ret && !scan_fits(s, len, 0))
		return -EFBIG;
	return ret;
}

static int scan_more(void *ctx, const uint8_t *buf, size_t len)
{
	return scan(ctx, buf, len, false);
}

/* calloc(0) may return NULL, which would read as a failure. */
static void *alloc_array(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

static int alloc_tables(struct profile *p, const struct counts *c)
{
	p->sample_types = alloc_array(c->sample_types, sizeof(*p->sample_types));
	p->samples = alloc_array(c->samples, sizeof(*p->samples));
	p->mappings = alloc_array(c->mappings, sizeof(*p->mappings));
	p->locations = alloc_array(c->locations, sizeof(*p->locations));
	p->functions = alloc_array(c->functions, sizeof(*p->functions));
	p->strings = alloc_array(c->strings, sizeof(*p->strings));
	p->comments = alloc_array(c->comments, sizeof(*p->comments));
	if (!p->sample_types || !p->samples || !p->mappings || !p->locations || !p->functions ||
	    !p->strings || !p->comments)
		return -ENOMEM;
	/* A profile without a string table still has strings[0] = "". */
	if (!c->strings) {
		p->strings[0] = calloc(1, 1);
		if (!p->strings[0])
			return -ENOMEM;
		p->nstrings = 1;
	}
	return 0;
}

static int decode_scalar(const struct pb_field *f, int64_t *x)
{
	uint64_t v;
	int err = pb_want_varint(f, &v);

	if (!err)
		*x = (int64_t)v;
	return err;
}

static int decode_field(struct profile *p, const struct pb_field *f, const struct counts *c)
{
	switch (f->num) {
	case 1:
		return decode_value_type(f, &p->sample_types[p->nsample_types++]);
	case 2:
		return decode_sample(f, &p->samples[p->nsamples++], c->sample_types);
	case 3:
		return decode_mapping(f, &p->mappings[p->nmappings++]);
	case 4:
		return decode_location(f, &p->locations[p->nlocations++]);
	case 5:
		return decode_function(f, &p->functions[p->nfunctions++]);
	case 6:
		return decode_string(f, p);
	case 7:
		return decode_scalar(f, &p->drop_frames);
	case 8:
		return decode_scalar(f, &p->keep_frames);
	case 9:
		return decode_scalar(f, &p->time_nanos);
	case 10:
		return decode_scalar(f, &p->duration_nanos);
	case 11:
		return decode_value_type(f, &p->period_type);
	case 12:
		return decode_scalar(f, &p->period);
	case 13:
		return pb_read_varints(f, (uint64_t *)p->comments, c->comments, &p->ncomments);
	case 14:
		return decode_scalar(f, &p->default_sample_type);
	default:
		return 0;
	}
}

static bool str_ok(const struct profile *p, int64_t i)
{
	return i >= 0 && (uint64_t)i < p->nstrings;
}

static bool vt_ok(const struct profile *p, const struct pf_value_type *vt)
{
	return str_ok(p, vt->type) && str_ok(p, vt->unit);
}

/* Every string index in range, so readers can index strings[] directly. */
static bool strings_ok(const struct profile *p)
{
	const struct pf_label *l;
	size_t i, j;
	bool ok = vt_ok(p, &p->period_type) && str_ok(p, p->drop_frames) &&
		  str_ok(p, p->keep_frames) && str_ok(p, p->default_sample_type);

	for (i = 0; ok && i < p->nsample_types; i++)
		ok = vt_ok(p, &p->sample_types[i]);
	for (i = 0; ok && i < p->ncomments; i++)
		ok = str_ok(p, p->comments[i]);
	for (i = 0; ok && i < p->nmappings; i++)
		ok = str_ok(p, p->mappings[i].filename) && str_ok(p, p->mappings[i].build_id);
	for (i = 0; ok && i < p->nfunctions; i++)
		ok = str_ok(p, p->functions[i].name) && str_ok(p, p->functions[i].system_name) &&
		     str_ok(p, p->functions[i].filename);
	for (i = 0; ok && i < p->nsamples; i++) {
		for (j = 0; ok && j < p->samples[i].nlabels; j++) {
			l = &p->samples[i].labels[j];
			ok = str_ok(p, l->key) && str_ok(p, l->str) && str_ok(p, l->num_unit);
		}
	}
	return ok;
}

/* Every sample's locations and every line's function exist, as Go checks. */
static bool refs_ok(const struct profile *p)
{
	const struct pf_location *l;
	size_t i, j;

	for (i = 0; i < p->nlocations; i++) {
		l = &p->locations[i];
		for (j = 0; j < l->nlines; j++) {
			if (!profile__function(p, l->lines[j].function_id))
				return false;
		}
	}
	for (i = 0; i < p->nsamples; i++) {
		for (j = 0; j < p->samples[i].nlocations; j++) {
			if (!profile__location(p, p->samples[i].location_ids[j]))
				return false;
		}
	}
	return true;
}

/* The second pass, into arrays sized by the first. */
static int decode_scanned(const uint8_t *buf, size_t len, const struct counts *c,
			  struct profile **out)
{
	struct pb_reader r = pb_reader_init(buf, len);
	struct profile *p;
	struct pb_field f;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	err = alloc_tables(p, c);
	while (!err && (err = pb_next(&r, &f)) > 0)
		err = decode_field(p, &f, c);
	if (err)
		goto cleanup;
	err = profile__index_ids(p);
	if (err) {
		pr_debug("pprof: zero or duplicate mapping, location or function id\n");
		goto cleanup;
	}
	if (!strings_ok(p) || !refs_ok(p)) {
		pr_debug("pprof: string index or id out of range\n");
		err = -EINVAL;
		goto cleanup;
	}
	*out = p;
	return 0;
cleanup:
	profile__free(p);
	return err;
}

int pprof_decode(const uint8_t *buf, size_t len, struct profile **out)
{
	struct scan s = { .max = SIZE_MAX };
	int err = scan(&s, buf, len, true);

	return err ? err : decode_scanned(buf, len, &s.c, out);
}

int pprof_decode_input(const uint8_t *in, size_t len, size_t max_mem, struct profile **out)
{
	struct scan s = { .in_len = len, .max = max_mem };
	uint8_t *data = NULL;
	size_t dlen = 0;
	int err;

	if (!len)
		return -ENODATA;
	if (len > max_mem)
		return -EFBIG;
	err = pprof_gunzip_max(in, len, max_mem - len, scan_more, &s, &data, &dlen);
	if (!err && !dlen)
		err = -ENODATA; /* as Go's pprof: "empty input file" */
	if (!err)
		err = scan(&s, data, dlen, true);
	if (!err)
		err = decode_scanned(data, dlen, &s.c, out);
	free(data);
	return err;
}
