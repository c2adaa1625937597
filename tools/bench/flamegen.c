// SPDX-License-Identifier: Apache-2.0
/*
 * A synthetic CPU profile for the flame graph page's benchmark: NLOC
 * distinct locations (one function each, NLOC >= 16): 8 of them a chain
 * every stack starts with (_start, main...), the others a binary call tree
 * below it; NSAMPLES stacks from a random location (mostly a leaf) up to
 * the root, 9 to 25 frames deep for 1k to 100k locations, as a real
 * profile's stacks share their callers; tid labels among 8 threads.
 *
 * usage: flamegen NLOC NSAMPLES OUT.pb.gz
 */
#include <stdio.h>
#include <stdlib.h>

#include "profile/pprof.h"
#include "profile/profile.h"

static unsigned long long rng = 88172645463325252ULL;

static unsigned long next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned long)rng;
}

int main(int argc, char **argv)
{
	struct pf_mapping_desc m = { .memory_start = 0x400000,
				     .memory_limit = 0x40000000,
				     .filename = "/usr/bin/synthetic",
				     .has_functions = true };
	struct profile *p;
	uint64_t *locs, stack[80], map;
	long nloc, nsamples, i, d, depth, ntree, k;
	char name[64], tid[16];

	if (argc != 4 || (nloc = atol(argv[1])) < 16 || (nsamples = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: flamegen NLOC NSAMPLES OUT.pb.gz\n");
		return 2;
	}
	ntree = nloc - 8;
	p = profile__new();
	locs = calloc(nloc, sizeof(*locs));
	if (!p || !locs || profile__add_sample_type(p, "samples", "count") ||
	    profile__add_sample_type(p, "cpu", "nanoseconds") ||
	    profile__set_period(p, "cpu", "nanoseconds", 10000000))
		return 1;
	map = profile__add_mapping(p, &m);
	for (i = 0; i < nloc; i++) {
		struct pf_line_desc line = { .function = name,
					     .filename = "synthetic.c",
					     .line = i % 1000 + 1 };

		snprintf(name, sizeof(name), "pkg%ld::module%ld::function_%ld", i % 37, i % 101, i);
		locs[i] = profile__add_location(p, map, 0x400000 + 16 * i, &line, 1);
		if (!locs[i])
			return 1;
	}
	for (i = 0; i < nsamples; i++) {
		struct pf_label_desc label = { .key = "tid", .str = tid };
		int64_t values[2] = { 1, 10000000 };

		/* Three samples in four end in a leaf of the tree, the others anywhere in it. */
		k = next() % 4 ? ntree / 2 + next() % (ntree - ntree / 2) : next() % ntree;
		depth = 0;
		stack[depth++] = locs[8 + k];
		while (k > 0) {
			k = (k - 1) / 2;
			stack[depth++] = locs[8 + k];
		}
		for (d = 7; d >= 0; d--)
			stack[depth++] = locs[d];
		snprintf(tid, sizeof(tid), "%lu", 1000 + next() % 8);
		if (profile__add_sample(p, stack, depth, values, &label, 1))
			return 1;
	}
	if (pprof_write_file(p, argv[3]))
		return 1;
	profile__free(p);
	free(locs);
	return 0;
}
