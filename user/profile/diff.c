// SPDX-License-Identifier: Apache-2.0
/*
 * One profile minus another, as `go tool pprof -base` and `-diff_base`
 * make it: the new profile's samples and the base's with their values
 * negated, in one profile every report reads as it reads any other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/diff.h"
#include "profile/profile.h"

/* Ids in dst of src's mappings and locations (by index), 0 until copied. */
struct copy_map {
	const struct profile *src;
	uint64_t *mappings;
	uint64_t *locations;
};

static uint64_t copy_mapping(struct profile *dst, struct copy_map *c, uint64_t src_id)
{
	const struct pf_mapping *m = profile__mapping(c->src, src_id);
	struct pf_mapping_desc d;
	size_t i;

	if (!m)
		return 0;
	i = (size_t)(m - c->src->mappings);
	if (c->mappings[i])
		return c->mappings[i];
	d = (struct pf_mapping_desc){
		.memory_start = m->memory_start,
		.memory_limit = m->memory_limit,
		.file_offset = m->file_offset,
		.filename = profile__str(c->src, m->filename),
		.build_id = profile__str(c->src, m->build_id),
		.has_functions = m->has_functions,
		.has_filenames = m->has_filenames,
		.has_line_numbers = m->has_line_numbers,
		.has_inline_frames = m->has_inline_frames,
	};
	c->mappings[i] = profile__add_mapping(dst, &d);
	return c->mappings[i];
}

/* The id in dst of src's location src_id; 0 on error (-EINVAL or -ENOMEM in *err). */
static uint64_t copy_location(struct profile *dst, struct copy_map *c, uint64_t src_id, int *err)
{
	const struct pf_location *l = profile__location(c->src, src_id);
	struct pf_line_desc *lines = NULL;
	uint64_t mapping = 0, id;
	size_t i;

	if (!l) {
		*err = -EINVAL;
		return 0;
	}
	i = (size_t)(l - c->src->locations);
	if (c->locations[i])
		return c->locations[i];
	if (l->mapping_id) {
		mapping = copy_mapping(dst, c, l->mapping_id);
		if (!mapping) {
			*err = profile__mapping(c->src, l->mapping_id) ? -ENOMEM : -EINVAL;
			return 0;
		}
	}
	if (l->nlines) {
		lines = calloc(l->nlines, sizeof(*lines));
		if (!lines) {
			*err = -ENOMEM;
			return 0;
		}
	}
	for (i = 0; i < l->nlines; i++) {
		const struct pf_function *f = profile__function(c->src, l->lines[i].function_id);

		lines[i].line = l->lines[i].line;
		if (!f)
			continue;
		lines[i].function = profile__str(c->src, f->name);
		lines[i].system_name = profile__str(c->src, f->system_name);
		lines[i].filename = profile__str(c->src, f->filename);
		lines[i].start_line = f->start_line;
	}
	id = profile__add_location(dst, mapping, l->address, lines, l->nlines);
	free(lines);
	if (!id)
		*err = -ENOMEM;
	c->locations[l - c->src->locations] = id;
	return id;
}

/* Adds every sample of src to dst, its values times sign, with the label extra if any. */
static int copy_samples(struct profile *dst, const struct profile *src, int64_t sign,
			const struct pf_label_desc *extra)
{
	struct copy_map c = { .src = src };
	struct pf_label_desc *labels = NULL;
	uint64_t *locs = NULL;
	int64_t *values = NULL;
	size_t i, j, maxl = 1, maxn = 1;
	int err = 0;

	for (i = 0; i < src->nsamples; i++) {
		if (src->samples[i].nlocations > maxl)
			maxl = src->samples[i].nlocations;
		if (src->samples[i].nlabels + 1 > maxn)
			maxn = src->samples[i].nlabels + 1;
	}
	c.mappings = calloc(src->nmappings + 1, sizeof(*c.mappings));
	c.locations = calloc(src->nlocations + 1, sizeof(*c.locations));
	locs = malloc(maxl * sizeof(*locs));
	labels = malloc(maxn * sizeof(*labels));
	values = malloc((src->nsample_types + 1) * sizeof(*values));
	if (!c.mappings || !c.locations || !locs || !labels || !values)
		err = -ENOMEM;
	/* The first mapping stays first: new's program leads the difference. */
	for (i = 0; !err && i < src->nmappings; i++)
		if (!copy_mapping(dst, &c, src->mappings[i].id))
			err = -ENOMEM;
	for (i = 0; !err && i < src->nsamples; i++) {
		const struct pf_sample *s = &src->samples[i];
		size_t n = 0;

		for (j = 0; !err && j < s->nlocations; j++)
			locs[j] = copy_location(dst, &c, s->location_ids[j], &err);
		for (j = 0; j < s->nlabels; j++) {
			const struct pf_label *l = &s->labels[j];

			labels[n++] = (struct pf_label_desc){
				.key = profile__str(src, l->key),
				.str = l->str ? profile__str(src, l->str) : NULL,
				.num = l->num,
				.num_unit = l->num_unit ? profile__str(src, l->num_unit) : NULL,
			};
		}
		if (extra)
			labels[n++] = *extra;
		for (j = 0; j < src->nsample_types; j++)
			values[j] = sign * s->values[j];
		if (!err)
			err = profile__add_sample(dst, locs, s->nlocations, values, labels, n);
	}
	free(c.mappings);
	free(c.locations);
	free(locs);
	free(labels);
	free(values);
	return err;
}

/* Adds the comments of src that d does not have yet. */
static int add_comments(struct profile *d, const struct profile *src)
{
	size_t i, j;
	int err = 0;

	for (i = 0; i < src->ncomments && !err; i++) {
		const char *c = profile__str(src, src->comments[i]);
		bool seen = false;

		for (j = 0; j < d->ncomments && !seen; j++)
			seen = !strcmp(profile__str(d, d->comments[j]), c);
		if (!seen)
			err = profile__add_comment(d, c);
	}
	return err;
}

int profile__types_match(const struct profile *a, const struct profile *b)
{
	size_t i;

	if (a->nsample_types != b->nsample_types)
		return 0;
	for (i = 0; i < a->nsample_types; i++)
		if (strcmp(profile__str(a, a->sample_types[i].type),
			   profile__str(b, b->sample_types[i].type)) ||
		    strcmp(profile__str(a, a->sample_types[i].unit),
			   profile__str(b, b->sample_types[i].unit)))
			return 0;
	return 1;
}

int profile__diff(const struct profile *base, const struct profile *new, bool mark_base,
		  struct profile **out)
{
	static const struct pf_label_desc base_label = { .key = PROFILE_DIFF_BASE_LABEL,
							 .str = "true" };
	struct profile *d;
	size_t i;
	int err = 0;

	*out = NULL;
	if (!profile__types_match(base, new))
		return -EDOM;
	d = profile__new();
	if (!d)
		return -ENOMEM;
	for (i = 0; i < new->nsample_types && !err; i++)
		err = profile__add_sample_type(d, profile__str(new, new->sample_types[i].type),
					       profile__str(new, new->sample_types[i].unit));
	/* The header as pprof merges profiles: the larger period, the comments of both. */
	if (!err)
		err = profile__set_period(d, profile__str(new, new->period_type.type),
					  profile__str(new, new->period_type.unit),
					  new->period > base->period ? new->period : base->period);
	if (!err && (new->default_sample_type || base->default_sample_type))
		err = profile__set_default_sample_type(
			d, new->default_sample_type
				   ? profile__str(new, new->default_sample_type)
				   : profile__str(base, base->default_sample_type));
	if (!err)
		err = add_comments(d, new);
	if (!err)
		err = add_comments(d, base);
	if (!err)
		err = copy_samples(d, new, 1, NULL);
	if (!err)
		err = copy_samples(d, base, -1, mark_base ? &base_label : NULL);
	if (err) {
		profile__free(d);
		return err;
	}
	/* The earlier start, and both durations. */
	d->time_nanos = new->time_nanos;
	if (!d->time_nanos || base->time_nanos < d->time_nanos)
		d->time_nanos = base->time_nanos;
	d->duration_nanos = new->duration_nanos + base->duration_nanos;
	*out = d;
	return 0;
}

bool profile__is_base_sample(const struct profile *p, const struct pf_sample *s)
{
	size_t i;

	for (i = 0; i < s->nlabels; i++)
		if (s->labels[i].str &&
		    !strcmp(profile__str(p, s->labels[i].key), PROFILE_DIFF_BASE_LABEL) &&
		    !strcmp(profile__str(p, s->labels[i].str), "true"))
			return true;
	return false;
}

int64_t profile__diff_total(const struct profile *p, int si)
{
	int64_t total = 0, base = 0, v;
	size_t i;

	if (si < 0 || (size_t)si >= p->nsample_types)
		return 0;
	for (i = 0; i < p->nsamples; i++) {
		v = p->samples[i].values[si];
		v = v < 0 ? -v : v;
		total += v;
		if (profile__is_base_sample(p, &p->samples[i]))
			base += v;
	}
	return base ? base : total;
}
