// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/index.h"

/* Samples and locations are hashed as raw arrays: no padding allowed. */
_Static_assert(sizeof(struct pf_label) == 4 * sizeof(int64_t), "pf_label has padding");
_Static_assert(sizeof(struct pf_line) == 2 * sizeof(int64_t), "pf_line has padding");

static bool arrays_equal(const void *a, const void *b, size_t len)
{
	return !len || !memcmp(a, b, len);
}

/* Hashes and equality of each table; the key has the element's own type. */

static uint64_t string_hash(const void *key)
{
	const char *s = *(char *const *)key;

	return hash_bytes(s, strlen(s), 0);
}

static bool string_eq(const void *ctx, size_t idx, const void *key)
{
	return !strcmp(((const struct profile *)ctx)->strings[idx], *(char *const *)key);
}

static uint64_t mapping_hash(const void *key)
{
	const struct pf_mapping *m = key;
	uint64_t w[6] = { m->memory_start,
			  m->memory_limit,
			  m->file_offset,
			  (uint64_t)m->filename,
			  (uint64_t)m->build_id,
			  m->has_functions | m->has_filenames << 1 | m->has_line_numbers << 2 |
				  m->has_inline_frames << 3 };

	return hash_bytes(w, sizeof(w), 0);
}

static bool mapping_eq(const void *ctx, size_t idx, const void *key)
{
	const struct pf_mapping *a = &((const struct profile *)ctx)->mappings[idx], *b = key;

	return a->memory_start == b->memory_start && a->memory_limit == b->memory_limit &&
	       a->file_offset == b->file_offset && a->filename == b->filename &&
	       a->build_id == b->build_id && a->has_functions == b->has_functions &&
	       a->has_filenames == b->has_filenames && a->has_line_numbers == b->has_line_numbers &&
	       a->has_inline_frames == b->has_inline_frames;
}

static uint64_t function_hash(const void *key)
{
	const struct pf_function *f = key;
	int64_t w[4] = { f->name, f->system_name, f->filename, f->start_line };

	return hash_bytes(w, sizeof(w), 0);
}

static bool function_eq(const void *ctx, size_t idx, const void *key)
{
	const struct pf_function *a = &((const struct profile *)ctx)->functions[idx], *b = key;

	return a->name == b->name && a->system_name == b->system_name &&
	       a->filename == b->filename && a->start_line == b->start_line;
}

/* A location with an address is known by it; one without, by its lines. */
static uint64_t location_hash(const void *key)
{
	const struct pf_location *l = key;
	uint64_t w[2] = { l->mapping_id, l->address };
	uint64_t h = hash_bytes(w, sizeof(w), 0);

	return l->address ? h : hash_bytes(l->lines, l->nlines * sizeof(*l->lines), h);
}

static bool location_eq(const void *ctx, size_t idx, const void *key)
{
	const struct pf_location *a = &((const struct profile *)ctx)->locations[idx], *b = key;

	if (a->mapping_id != b->mapping_id || a->address != b->address)
		return false;
	return b->address || (a->nlines == b->nlines &&
			      arrays_equal(a->lines, b->lines, a->nlines * sizeof(*a->lines)));
}

static uint64_t sample_hash(const void *key)
{
	const struct pf_sample *s = key;
	uint64_t h = hash_bytes(s->location_ids, s->nlocations * sizeof(uint64_t), 0);

	return hash_bytes(s->labels, s->nlabels * sizeof(*s->labels), h);
}

static bool sample_eq(const void *ctx, size_t idx, const void *key)
{
	const struct pf_sample *a = &((const struct profile *)ctx)->samples[idx], *b = key;

	return a->nlocations == b->nlocations && a->nlabels == b->nlabels &&
	       arrays_equal(a->location_ids, b->location_ids, a->nlocations * sizeof(uint64_t)) &&
	       arrays_equal(a->labels, b->labels, a->nlabels * sizeof(*a->labels));
}

static const struct {
	uint64_t (*hash)(const void *key);
	hashtab_eq_fn eq;
} table_ops[PFI_NR] = {
	[PFI_STRINGS] = { string_hash, string_eq },
	[PFI_MAPPINGS] = { mapping_hash, mapping_eq },
	[PFI_FUNCTIONS] = { function_hash, function_eq },
	[PFI_LOCATIONS] = { location_hash, location_eq },
	[PFI_SAMPLES] = { sample_hash, sample_eq },
};

/* Table t of p as an array of n elements of size bytes. */
static const void *table_array(const struct profile *p, enum pfi_table t, size_t *n, size_t *size)
{
	switch (t) {
	case PFI_STRINGS:
		*n = p->nstrings;
		*size = sizeof(*p->strings);
		return p->strings;
	case PFI_MAPPINGS:
		*n = p->nmappings;
		*size = sizeof(*p->mappings);
		return p->mappings;
	case PFI_FUNCTIONS:
		*n = p->nfunctions;
		*size = sizeof(*p->functions);
		return p->functions;
	case PFI_LOCATIONS:
		*n = p->nlocations;
		*size = sizeof(*p->locations);
		return p->locations;
	default:
		*n = p->nsamples;
		*size = sizeof(*p->samples);
		return p->samples;
	}
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

int pfi_label_cmp(const void *pa, const void *pb)
{
	const struct pf_label *a = pa, *b = pb;

	if (a->key != b->key)
		return cmp_i64(a->key, b->key);
	if (a->str != b->str)
		return cmp_i64(a->str, b->str);
	if (a->num != b->num)
		return cmp_i64(a->num, b->num);
	return cmp_i64(a->num_unit, b->num_unit);
}

long pfi_find(const struct profile *p, enum pfi_table t, const void *key, uint64_t *hash)
{
	*hash = table_ops[t].hash(key);
	return hashtab__find(&p->index->tabs[t], *hash, table_ops[t].eq, p, key);
}

/* Indexes the existing entries; of duplicates (decoded profiles) the first wins. */
static int index_table(struct profile *p, enum pfi_table t)
{
	struct hashtab *tab = &p->index->tabs[t];
	size_t n, size, i;
	const char *base = table_array(p, t, &n, &size);
	uint64_t h;
	int err;

	err = hashtab__reserve(tab, n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		if (pfi_find(p, t, base + i * size, &h) < 0)
			hashtab__insert(tab, h, i); /* cannot fail after the reserve */
	}
	return 0;
}

static int index_ids(struct profile *p, enum pfi_table t);

static void index_clear(struct profile_index *idx)
{
	int t;

	for (t = 0; t < PFI_NR; t++)
		hashtab__fini(&idx->tabs[t]);
	idx->built = false;
}

static int index_build(struct profile *p)
{
	struct profile_index *idx = p->index;
	size_t i;
	int t, err = 0;

	/* Samples compare labels as sorted arrays. */
	for (i = 0; i < p->nsamples; i++) {
		if (p->samples[i].nlabels > 1)
			qsort(p->samples[i].labels, p->samples[i].nlabels,
			      sizeof(*p->samples[i].labels), pfi_label_cmp);
	}
	for (t = 0; t < PFI_NR && !err; t++)
		err = index_table(p, t);
	if (err) {
		index_clear(idx);
		return err;
	}
	/* A decoder allocates exactly; the counts are safe capacities. */
	idx->cap_strings = p->nstrings;
	idx->cap_sample_types = p->nsample_types;
	idx->cap_samples = p->nsamples;
	idx->cap_mappings = p->nmappings;
	idx->cap_locations = p->nlocations;
	idx->cap_functions = p->nfunctions;
	idx->cap_comments = p->ncomments;
	idx->built = true;
	return 0;
}

int pfi_rebuild_mappings(struct profile *p)
{
	static const enum pfi_table moved[] = { PFI_MAPPINGS, PFI_LOCATIONS };
	size_t i;
	int err = 0;

	if (!p->index || !p->index->built)
		return pfi_ensure(p);
	/* Only mappings moved, and locations hash their mapping's id. */
	for (i = 0; i < 2 && !err; i++) {
		hashtab__fini(&p->index->tabs[moved[i]]);
		err = index_table(p, moved[i]);
	}
	if (!err && p->index->ids[PFI_MAPPINGS].sparse)
		err = index_ids(p, PFI_MAPPINGS);
	if (err)
		index_clear(p->index);
	return err;
}

int pfi_ensure(struct profile *p)
{
	if (!p->index) {
		p->index = calloc(1, sizeof(*p->index));
		if (!p->index)
			return -ENOMEM;
	}
	return p->index->built ? 0 : index_build(p);
}

void pfi_free(struct profile_index *idx)
{
	int t;

	if (!idx)
		return;
	index_clear(idx);
	for (t = 0; t < PFI_NR; t++)
		hashtab__fini(&idx->ids[t].tab);
	free(idx);
}

uint64_t pfi_room(struct profile *p, enum pfi_table t, size_t n)
{
	struct id_map *ids = &p->index->ids[t];
	/* 0 (no id) only when a decoded profile already used UINT64_MAX */
	uint64_t id = ids->sparse ? ids->max_id + 1 : n + 1;

	if (!id || hashtab__reserve(&p->index->tabs[t], n + 1) ||
	    (ids->sparse && hashtab__reserve(&ids->tab, ids->tab.len + 1)))
		return 0;
	return id;
}

void pfi_commit(struct profile *p, enum pfi_table t, uint64_t hash, size_t n, uint64_t id)
{
	struct id_map *ids = &p->index->ids[t];

	/* Room was made by pfi_room(): the inserts cannot fail. */
	hashtab__insert(&p->index->tabs[t], hash, n);
	if (ids->sparse) {
		hashtab__insert(&ids->tab, hash_u64(id), n);
		ids->max_id = id;
	}
}

/* Every table with ids keeps the id as its first member. */
static uint64_t id_at(const void *base, size_t size, size_t i)
{
	return *(const uint64_t *)((const char *)base + i * size);
}

struct id_ctx {
	const void *base;
	size_t size;
};

static bool id_eq(const void *ctx, size_t idx, const void *key)
{
	const struct id_ctx *c = ctx;

	return id_at(c->base, c->size, idx) == *(const uint64_t *)key;
}

static bool ids_dense(const struct profile *p, enum pfi_table t)
{
	size_t n, size, i;
	const void *base = table_array(p, t, &n, &size);

	for (i = 0; i < n; i++) {
		if (id_at(base, size, i) != i + 1)
			return false;
	}
	return true;
}

static int index_ids(struct profile *p, enum pfi_table t)
{
	struct id_map *m = &p->index->ids[t];
	struct id_ctx ctx;
	size_t n, i;
	int err;

	ctx.base = table_array(p, t, &n, &ctx.size);
	hashtab__fini(&m->tab);
	m->sparse = !ids_dense(p, t);
	m->max_id = n;
	if (!m->sparse)
		return 0;
	err = hashtab__reserve(&m->tab, n);
	if (err)
		return err;
	m->max_id = 0;
	for (i = 0; i < n; i++) {
		uint64_t id = id_at(ctx.base, ctx.size, i), h = hash_u64(id);

		if (!id || hashtab__find(&m->tab, h, id_eq, &ctx, &id) >= 0)
			return -EINVAL;
		hashtab__insert(&m->tab, h, i);
		if (id > m->max_id)
			m->max_id = id;
	}
	return 0;
}

int profile__index_ids(struct profile *p)
{
	static const enum pfi_table with_ids[] = { PFI_MAPPINGS, PFI_FUNCTIONS, PFI_LOCATIONS };
	size_t i;
	int err = 0;

	/* The common case, ids 1..n, needs no index at all. */
	if (!p->index && ids_dense(p, PFI_MAPPINGS) && ids_dense(p, PFI_FUNCTIONS) &&
	    ids_dense(p, PFI_LOCATIONS))
		return 0;
	if (!p->index) {
		p->index = calloc(1, sizeof(*p->index));
		if (!p->index)
			return -ENOMEM;
	}
	for (i = 0; i < sizeof(with_ids) / sizeof(*with_ids) && !err; i++)
		err = index_ids(p, with_ids[i]);
	return err;
}

static const void *lookup(const struct profile *p, enum pfi_table t, uint64_t id)
{
	struct id_ctx ctx;
	size_t n;
	long i;

	ctx.base = table_array(p, t, &n, &ctx.size);
	if (!id)
		return NULL;
	if (id <= n && id_at(ctx.base, ctx.size, id - 1) == id)
		return (const char *)ctx.base + (id - 1) * ctx.size;
	/* Without a sparse map every id is index + 1: the fast path was exhaustive. */
	if (!p->index || !p->index->ids[t].sparse)
		return NULL;
	i = hashtab__find(&p->index->ids[t].tab, hash_u64(id), id_eq, &ctx, &id);
	return i < 0 ? NULL : (const char *)ctx.base + i * ctx.size;
}

const struct pf_mapping *profile__mapping(const struct profile *p, uint64_t id)
{
	return lookup(p, PFI_MAPPINGS, id);
}

const struct pf_location *profile__location(const struct profile *p, uint64_t id)
{
	return lookup(p, PFI_LOCATIONS, id);
}

const struct pf_function *profile__function(const struct profile *p, uint64_t id)
{
	return lookup(p, PFI_FUNCTIONS, id);
}
