/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-memory profile model: the same shape as pprof's profile.proto, with
 * interning of strings and de-duplication of mappings, functions, locations
 * and samples, so that collectors can add without caring about repeats.
 *
 * Every table is a plain array a reader may walk.  Ids given out by the
 * profile__add_*() functions are index + 1; a decoded profile may carry any
 * ids, so look them up through profile__mapping()/__location()/__function().
 * String fields hold indexes into strings[]; strings[0] is always "".
 */
#ifndef BPFPROF_PROFILE_H
#define BPFPROF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pf_value_type {
	int64_t type; /* string index, e.g. "cpu" */
	int64_t unit; /* string index, e.g. "nanoseconds" */
};

struct pf_label {
	int64_t key;	  /* string index */
	int64_t str;	  /* string index, 0 when numeric */
	int64_t num;	  /* value when str == 0 */
	int64_t num_unit; /* string index, 0 when none */
};

struct pf_sample {
	uint64_t *location_ids; /* leaf first */
	size_t nlocations;
	int64_t *values; /* one per sample type */
	struct pf_label *labels;
	size_t nlabels;
};

struct pf_mapping {
	uint64_t id;
	uint64_t memory_start;
	uint64_t memory_limit;
	uint64_t file_offset;
	int64_t filename; /* string index */
	int64_t build_id; /* string index: hex GNU build id, or "" */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
};

struct pf_line {
	uint64_t function_id;
	int64_t line;
};

struct pf_location {
	uint64_t id;
	uint64_t mapping_id; /* 0 when unknown */
	uint64_t address;
	struct pf_line *lines; /* innermost (inlined) first */
	size_t nlines;
	bool is_folded;
};

struct pf_function {
	uint64_t id;
	int64_t name;	     /* string index */
	int64_t system_name; /* string index */
	int64_t filename;    /* string index */
	int64_t start_line;
};

struct profile {
	struct pf_value_type *sample_types;
	size_t nsample_types;
	struct pf_sample *samples;
	size_t nsamples;
	struct pf_mapping *mappings;
	size_t nmappings;
	struct pf_location *locations;
	size_t nlocations;
	struct pf_function *functions;
	size_t nfunctions;
	char **strings;
	size_t nstrings;
	int64_t *comments; /* string indexes */
	size_t ncomments;
	int64_t drop_frames; /* string index */
	int64_t keep_frames; /* string index */
	int64_t time_nanos;
	int64_t duration_nanos;
	struct pf_value_type period_type;
	int64_t period;
	int64_t default_sample_type; /* string index */

	struct profile_index *index; /* private: de-duplication tables */
};

/* A mapping as a collector describes it; strings are copied. */
struct pf_mapping_desc {
	uint64_t memory_start;
	uint64_t memory_limit;
	uint64_t file_offset;
	const char *filename;
	const char *build_id; /* NULL or "" when unknown */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
};

/* One line of a location as a collector describes it; strings are copied. */
struct pf_line_desc {
	const char *function;	 /* demangled name */
	const char *system_name; /* raw (mangled) name, NULL = same as function */
	const char *filename;	 /* NULL or "" when unknown */
	int64_t line;		 /* 0 when unknown */
	int64_t start_line;	 /* of the function, 0 when unknown */
};

/*
 * A label as a collector describes it: a string label when str != NULL,
 * else a numeric one (num_unit may be NULL).
 */
struct pf_label_desc {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;
};

/* An empty profile with no sample types.  NULL and errno on failure. */
struct profile *profile__new(void);
void profile__free(struct profile *p);

/* Interns s and returns its index, or -ENOMEM. */
int64_t profile__string(struct profile *p, const char *s);
/* The string at index i, or "" when i is out of range. */
const char *profile__str(const struct profile *p, int64_t i);

/* -EBUSY once samples exist: their values arrays have one slot per type. */
int profile__add_sample_type(struct profile *p, const char *type, const char *unit);
int profile__set_period(struct profile *p, const char *type, const char *unit, int64_t period);
int profile__set_default_sample_type(struct profile *p, const char *type);
int profile__add_comment(struct profile *p, const char *comment);

/* Returns the id of an equal existing mapping or of a new one; 0 on error. */
uint64_t profile__add_mapping(struct profile *p, const struct pf_mapping_desc *m);
/* Returns the id of an equal existing function or of a new one; 0 on error. */
uint64_t profile__add_function(struct profile *p, const char *name, const char *system_name,
			       const char *filename, int64_t start_line);
/*
 * Returns the id of the location at (mapping_id, address) when one exists
 * (lines are then ignored) or of a new one made from lines; 0 on error.
 * An address of 0 never de-duplicates: such locations are compared by lines.
 */
uint64_t profile__add_location(struct profile *p, uint64_t mapping_id, uint64_t address,
			       const struct pf_line_desc *lines, size_t nlines);

/*
 * Adds values (nsample_types of them) to the sample with the same locations
 * and labels, or makes a new sample.  Label order does not matter: labels
 * are stored sorted by key, then value (as string indexes).  -EINVAL when
 * there are no sample types yet.
 */
int profile__add_sample(struct profile *p, const uint64_t *location_ids, size_t nlocations,
			const int64_t *values, const struct pf_label_desc *labels, size_t nlabels);

/*
 * For decoders that fill the arrays directly: checks that every mapping,
 * location and function id is nonzero and unique (-EINVAL otherwise) and,
 * when a table's ids are not index + 1, indexes them so that the lookups
 * below stay O(1) and later profile__add_*() calls give out fresh ids.
 */
int profile__index_ids(struct profile *p);

/* Lookups by id; NULL when there is no such id. */
const struct pf_mapping *profile__mapping(const struct profile *p, uint64_t id);
const struct pf_location *profile__location(const struct profile *p, uint64_t id);
const struct pf_function *profile__function(const struct profile *p, uint64_t id);

/*
 * Moves mapping id to the front of the mappings, as pprof expects of the
 * main binary (its "File:" line and the names of saved profiles come from
 * the first mapping).  Ids that were index + 1 are renumbered so they stay
 * so (locations follow); other ids move with their mappings.  0, -ENOENT
 * when there is no such mapping, or -ENOMEM.
 */
int profile__lead_mapping(struct profile *p, uint64_t id);

/* Index of the sample type named type, or -1. */
int profile__sample_type_index(const struct profile *p, const char *type);

#endif
