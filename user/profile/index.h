/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to profile.c and profile_index.c: the de-duplication tables and
 * id maps behind struct profile's index pointer.
 */
#ifndef BPFPROF_PROFILE_INDEX_H
#define BPFPROF_PROFILE_INDEX_H

#include "util/hash.h"
#include "profile/profile.h"

enum pfi_table { PFI_STRINGS, PFI_MAPPINGS, PFI_FUNCTIONS, PFI_LOCATIONS, PFI_SAMPLES, PFI_NR };

/*
 * Ids of a decoded profile may be anything; a table whose ids are not
 * index + 1 is "sparse" and gets an id -> index table.
 */
struct id_map {
	bool sparse;
	uint64_t max_id;
	struct hashtab tab;
};

struct profile_index {
	/*
	 * The de-duplication tables and capacities are built on the first
	 * profile__add_*(), so that decoding a profile only to read it costs
	 * nothing.  Capacities count elements of the profile's arrays.
	 */
	bool built;
	struct hashtab tabs[PFI_NR];
	size_t cap_strings, cap_sample_types, cap_samples, cap_mappings, cap_locations,
		cap_functions, cap_comments;
	struct id_map ids[PFI_NR]; /* mappings, functions and locations only */
};

/* Allocates and builds the index if need be. */
int pfi_ensure(struct profile *p);
void pfi_free(struct profile_index *idx);
/*
 * Indexes the mappings and locations again after mappings were reordered
 * or renumbered in place (the mappings' id map too, when sparse).  0 or
 * -ENOMEM (the index is then dropped, to be built again on next use).
 */
int pfi_rebuild_mappings(struct profile *p);

/*
 * The index of an element equal to key (an element of table t, ids
 * ignored; a char ** for strings) or -1; *hash receives key's hash.
 */
long pfi_find(const struct profile *p, enum pfi_table t, const void *key, uint64_t *hash);
/*
 * Makes room in the tables of t for element n, so pfi_commit() cannot
 * fail; returns the id the element gets (n + 1 when t has no ids), or 0.
 */
uint64_t pfi_room(struct profile *p, enum pfi_table t, size_t n);
void pfi_commit(struct profile *p, enum pfi_table t, uint64_t hash, size_t n, uint64_t id);

/* Orders labels by key, then value (string indexes), then number and unit. */
int pfi_label_cmp(const void *a, const void *b);

#endif
