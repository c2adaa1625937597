// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/index.h"
#include "util/util.h"

/* Room for element n of an array of cap elements; NULL when out of memory. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	return array_grow(arr, cap, n, size, 16);
}

static void *memdup(const void *src, size_t len)
{
	void *dst;

	if (!len)
		return NULL;
	dst = malloc(len);
	if (dst)
		memcpy(dst, src, len);
	return dst;
}

struct profile *profile__new(void)
{
	struct profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (pfi_ensure(p) || profile__string(p, "") != 0) {
		profile__free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void profile__free(struct profile *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nsamples; i++) {
		free(p->samples[i].location_ids);
		free(p->samples[i].values);
		free(p->samples[i].labels);
	}
	for (i = 0; i < p->nlocations; i++)
		free(p->locations[i].lines);
	for (i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	free(p->sample_types);
	free(p->samples);
	free(p->mappings);
	free(p->locations);
	free(p->functions);
	free(p->strings);
	free(p->comments);
	pfi_free(p->index);
	free(p);
}

int64_t profile__string(struct profile *p, const char *s)
{
	size_t len;
	uint64_t h;
	char **arr, *copy;
	long i;
	int err;

	if (!s)
		s = "";
	err = pfi_ensure(p);
	if (err)
		return err;
	i = pfi_find(p, PFI_STRINGS, &s, &h);
	if (i >= 0)
		return i;
	len = strlen(s);
	copy = malloc(len + 1);
	arr = copy && pfi_room(p, PFI_STRINGS, p->nstrings)
		      ? grow(p->strings, &p->index->cap_strings, p->nstrings, sizeof(*arr))
		      : NULL;
	if (!arr) {
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, s, len + 1);
	p->strings = arr;
	pfi_commit(p, PFI_STRINGS, h, p->nstrings, 0);
	p->strings[p->nstrings] = copy;
	return (int64_t)p->nstrings++;
}

const char *profile__str(const struct profile *p, int64_t i)
{
	if (i < 0 || (uint64_t)i >= p->nstrings)
		return "";
	return p->strings[i];
}

int profile__add_sample_type(struct profile *p, const char *type, const char *unit)
{
	struct pf_value_type vt, *arr;

	if (p->nsamples)
		return -EBUSY;
	vt.type = profile__string(p, type);
	vt.unit = profile__string(p, unit);
	if (vt.type < 0 || vt.unit < 0)
		return -ENOMEM;
	arr = grow(p->sample_types, &p->index->cap_sample_types, p->nsample_types, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	p->sample_types = arr;
	p->sample_types[p->nsample_types++] = vt;
	return 0;
}

int profile__set_period(struct profile *p, const char *type, const char *unit, int64_t period)
{
	int64_t t = profile__string(p, type), u = profile__string(p, unit);

	if (t < 0 || u < 0)
		return -ENOMEM;
	p->period_type.type = t;
	p->period_type.unit = u;
	p->period = period;
	return 0;
}

int profile__set_default_sample_type(struct profile *p, const char *type)
{
	int64_t t = profile__string(p, type);

	if (t < 0)
		return (int)t;
	p->default_sample_type = t;
	return 0;
}

int profile__add_comment(struct profile *p, const char *comment)
{
	int64_t c = profile__string(p, comment), *arr;

	if (c < 0)
		return (int)c;
	arr = grow(p->comments, &p->index->cap_comments, p->ncomments, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	p->comments = arr;
	p->comments[p->ncomments++] = c;
	return 0;
}

uint64_t profile__add_mapping(struct profile *p, const struct pf_mapping_desc *m)
{
	struct pf_mapping key = {
		.memory_start = m->memory_start,
		.memory_limit = m->memory_limit,
		.file_offset = m->file_offset,
		.has_functions = m->has_functions,
		.has_filenames = m->has_filenames,
		.has_line_numbers = m->has_line_numbers,
		.has_inline_frames = m->has_inline_frames,
	};
	struct pf_mapping *arr;
	uint64_t h;
	long i;

	key.filename = profile__string(p, m->filename);
	key.build_id = profile__string(p, m->build_id);
	if (key.filename < 0 || key.build_id < 0)
		return 0;
	i = pfi_find(p, PFI_MAPPINGS, &key, &h);
	if (i >= 0)
		return p->mappings[i].id;
	key.id = pfi_room(p, PFI_MAPPINGS, p->nmappings);
	arr = key.id ? grow(p->mappings, &p->index->cap_mappings, p->nmappings, sizeof(key)) : NULL;
	if (!arr)
		return 0;
	p->mappings = arr;
	pfi_commit(p, PFI_MAPPINGS, h, p->nmappings, key.id);
	p->mappings[p->nmappings++] = key;
	return key.id;
}

int profile__lead_mapping(struct profile *p, uint64_t id)
{
	const struct pf_mapping *m = profile__mapping(p, id);
	struct pf_mapping lead;
	bool dense = true;
	size_t k, i;

	if (!m)
		return -ENOENT;
	k = (size_t)(m - p->mappings);
	if (k == 0)
		return 0;
	for (i = 0; i < p->nmappings && dense; i++)
		dense = p->mappings[i].id == i + 1;
	lead = *m;
	memmove(p->mappings + 1, p->mappings, k * sizeof(*p->mappings));
	p->mappings[0] = lead;
	if (dense) {
		/* Mapping k+1 becomes 1, mappings 1..k move up by one. */
		for (i = 0; i <= k; i++)
			p->mappings[i].id = i + 1;
		for (i = 0; i < p->nlocations; i++) {
			uint64_t *mid = &p->locations[i].mapping_id;

			if (*mid == k + 1)
				*mid = 1;
			else if (*mid && *mid <= k)
				(*mid)++;
		}
	}
	return pfi_rebuild_mappings(p);
}

uint64_t profile__add_function(struct profile *p, const char *name, const char *system_name,
			       const char *filename, int64_t start_line)
{
	struct pf_function key = { .start_line = start_line }, *arr;
	uint64_t h;
	long i;

	key.name = profile__string(p, name);
	key.system_name = profile__string(p, system_name ? system_name : name);
	key.filename = profile__string(p, filename);
	if (key.name < 0 || key.system_name < 0 || key.filename < 0)
		return 0;
	i = pfi_find(p, PFI_FUNCTIONS, &key, &h);
	if (i >= 0)
		return p->functions[i].id;
	key.id = pfi_room(p, PFI_FUNCTIONS, p->nfunctions);
	arr = key.id ? grow(p->functions, &p->index->cap_functions, p->nfunctions, sizeof(key))
		     : NULL;
	if (!arr)
		return 0;
	p->functions = arr;
	pfi_commit(p, PFI_FUNCTIONS, h, p->nfunctions, key.id);
	p->functions[p->nfunctions++] = key;
	return key.id;
}

static struct pf_line *make_lines(struct profile *p, const struct pf_line_desc *lines, size_t n)
{
	struct pf_line *out = calloc(n, sizeof(*out));
	size_t i;

	for (i = 0; out && i < n; i++) {
		out[i].function_id =
			profile__add_function(p, lines[i].function, lines[i].system_name,
					      lines[i].filename, lines[i].start_line);
		out[i].line = lines[i].line;
		if (!out[i].function_id) {
			free(out);
			return NULL;
		}
	}
	return out;
}

uint64_t profile__add_location(struct profile *p, uint64_t mapping_id, uint64_t address,
			       const struct pf_line_desc *lines, size_t nlines)
{
	struct pf_location key = { .mapping_id = mapping_id, .address = address }, *arr;
	uint64_t h = 0;
	long i;

	if (pfi_ensure(p))
		return 0;
	/* Known by address: look up before making functions for the lines. */
	if (address) {
		i = pfi_find(p, PFI_LOCATIONS, &key, &h);
		if (i >= 0)
			return p->locations[i].id;
	}
	if (nlines) {
		key.lines = make_lines(p, lines, nlines);
		if (!key.lines)
			return 0;
		key.nlines = nlines;
	}
	/* Known by its lines. */
	if (!address) {
		i = pfi_find(p, PFI_LOCATIONS, &key, &h);
		if (i >= 0) {
			free(key.lines);
			return p->locations[i].id;
		}
	}
	key.id = pfi_room(p, PFI_LOCATIONS, p->nlocations);
	arr = key.id ? grow(p->locations, &p->index->cap_locations, p->nlocations, sizeof(key))
		     : NULL;
	if (!arr) {
		free(key.lines);
		return 0;
	}
	p->locations = arr;
	pfi_commit(p, PFI_LOCATIONS, h, p->nlocations, key.id);
	p->locations[p->nlocations++] = key;
	return key.id;
}

static int make_label(struct profile *p, const struct pf_label_desc *d, struct pf_label *l)
{
	l->key = profile__string(p, d->key);
	l->str = d->str ? profile__string(p, d->str) : 0;
	l->num = d->str ? 0 : d->num;
	l->num_unit = d->str || !d->num_unit ? 0 : profile__string(p, d->num_unit);
	return l->key < 0 || l->str < 0 || l->num_unit < 0 ? -ENOMEM : 0;
}

/* Stores a copy of key, which was not found under hash h, as a new sample. */
static int new_sample(struct profile *p, const struct pf_sample *key, uint64_t h,
		      const int64_t *values)
{
	struct pf_sample s = { .nlocations = key->nlocations, .nlabels = key->nlabels },
			 *arr = NULL;

	s.location_ids = memdup(key->location_ids, key->nlocations * sizeof(uint64_t));
	s.values = memdup(values, p->nsample_types * sizeof(*values));
	s.labels = memdup(key->labels, key->nlabels * sizeof(*key->labels));
	if ((s.location_ids || !s.nlocations) && s.values && (s.labels || !s.nlabels) &&
	    pfi_room(p, PFI_SAMPLES, p->nsamples))
		arr = grow(p->samples, &p->index->cap_samples, p->nsamples, sizeof(s));
	if (!arr) {
		free(s.location_ids);
		free(s.values);
		free(s.labels);
		return -ENOMEM;
	}
	p->samples = arr;
	pfi_commit(p, PFI_SAMPLES, h, p->nsamples, 0);
	p->samples[p->nsamples++] = s;
	return 0;
}

int profile__add_sample(struct profile *p, const uint64_t *location_ids, size_t nlocations,
			const int64_t *values, const struct pf_label_desc *labels, size_t nlabels)
{
	struct pf_label stack_labels[8], *lab = stack_labels;
	struct pf_sample key = { .location_ids = (uint64_t *)location_ids,
				 .nlocations = nlocations,
				 .nlabels = nlabels };
	uint64_t h;
	size_t j;
	long i;
	int err;

	if (!p->nsample_types)
		return -EINVAL;
	err = pfi_ensure(p);
	if (err)
		return err;
	if (nlabels > sizeof(stack_labels) / sizeof(*stack_labels)) {
		lab = calloc(nlabels, sizeof(*lab));
		if (!lab)
			return -ENOMEM;
	}
	for (j = 0; j < nlabels && !err; j++)
		err = make_label(p, &labels[j], &lab[j]);
	if (err)
		goto cleanup;
	qsort(lab, nlabels, sizeof(*lab), pfi_label_cmp);
	key.labels = lab;
	i = pfi_find(p, PFI_SAMPLES, &key, &h);
	if (i < 0) {
		err = new_sample(p, &key, h, values);
		goto cleanup;
	}
	/* Wrapping, not undefined, should a counter ever overflow. */
	for (j = 0; j < p->nsample_types; j++)
		p->samples[i].values[j] =
			(int64_t)((uint64_t)p->samples[i].values[j] + (uint64_t)values[j]);
cleanup:
	if (lab != stack_labels)
		free(lab);
	return err;
}

int profile__sample_type_index(const struct profile *p, const char *type)
{
	size_t i;

	for (i = 0; i < p->nsample_types; i++) {
		if (!strcmp(profile__str(p, p->sample_types[i].type), type))
			return (int)i;
	}
	return -1;
}
