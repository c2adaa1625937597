// SPDX-License-Identifier: Apache-2.0
/* profile__index_ids(): the id index of a decoded profile, and what it rejects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile.h"

/* Fills the arrays the way pprof_decode() does, index left unbuilt. */
static struct profile *decoded_like(void)
{
	struct profile *p = calloc(1, sizeof(*p));
	const char *strs[] = { "", "cpu", "ns", "main", "/bin/app", "k", "v" };
	size_t i;

	assert_non_null(p);
	p->nstrings = sizeof(strs) / sizeof(*strs);
	p->strings = calloc(p->nstrings, sizeof(*p->strings));
	for (i = 0; i < p->nstrings; i++)
		p->strings[i] = strdup(strs[i]);
	p->nsample_types = 1;
	p->sample_types = calloc(1, sizeof(*p->sample_types));
	p->sample_types[0] = (struct pf_value_type){ 1, 2 };
	p->nmappings = 1;
	p->mappings = calloc(1, sizeof(*p->mappings));
	p->mappings[0] = (struct pf_mapping){ .id = 9, .memory_start = 0x1000, .filename = 4 };
	p->nfunctions = 1;
	p->functions = calloc(1, sizeof(*p->functions));
	p->functions[0] = (struct pf_function){ .id = 1, .name = 3, .system_name = 3 };
	/* Sparse location ids, as another producer may write them. */
	p->nlocations = 2;
	p->locations = calloc(2, sizeof(*p->locations));
	p->locations[0] = (struct pf_location){ .id = 7, .mapping_id = 9, .address = 0x1010 };
	/* With a line: a location with an address is still known by the address alone. */
	p->locations[0].nlines = 1;
	p->locations[0].lines = calloc(1, sizeof(struct pf_line));
	p->locations[0].lines[0] = (struct pf_line){ .function_id = 1, .line = 12 };
	p->locations[1] = (struct pf_location){ .id = 3, .mapping_id = 9, .address = 0x1020 };
	p->nsamples = 1;
	p->samples = calloc(1, sizeof(*p->samples));
	p->samples[0].nlocations = 2;
	p->samples[0].location_ids = calloc(2, sizeof(uint64_t));
	p->samples[0].location_ids[0] = 7;
	p->samples[0].location_ids[1] = 3;
	p->samples[0].values = calloc(1, sizeof(int64_t));
	p->samples[0].values[0] = 5;
	p->samples[0].nlabels = 1;
	p->samples[0].labels = calloc(1, sizeof(struct pf_label));
	p->samples[0].labels[0] = (struct pf_label){ .key = 5, .str = 6 };
	return p;
}

static void test_decoded_profile_lazy_index(void **state)
{
	struct profile *p = decoded_like();
	struct pf_mapping_desc md = { .memory_start = 0x1000, .filename = "/bin/app" };
	struct pf_label_desc lab = { .key = "k", .str = "v" };
	uint64_t stack[2] = { 7, 3 };
	int64_t v = 4;
	uint64_t id;

	assert_int_equal(profile__index_ids(p), 0);
	assert_non_null(p->index); /* sparse ids need an id map */
	assert_int_equal(profile__location(p, 7)->address, 0x1010);
	assert_int_equal(profile__location(p, 3)->address, 0x1020);
	assert_null(profile__location(p, 1));
	assert_null(profile__location(p, 8));
	assert_int_equal(profile__mapping(p, 9)->memory_start, 0x1000);
	assert_null(profile__mapping(p, 1));

	/* Additions find what was decoded. */
	assert_int_equal(profile__string(p, "main"), 3);
	assert_int_equal(profile__string(p, "new"), 7);
	assert_int_equal(profile__add_mapping(p, &md), 9);
	assert_int_equal(profile__add_function(p, "main", NULL, NULL, 0), 1);
	assert_int_equal(profile__add_location(p, 9, 0x1020, NULL, 0), 3);
	assert_int_equal(profile__add_location(p, 9, 0x1010, NULL, 0), 7);
	assert_int_equal(profile__add_sample(p, stack, 2, &v, &lab, 1), 0);
	assert_int_equal(p->nsamples, 1);
	assert_int_equal(p->samples[0].values[0], 9);

	/* New ids do not collide with decoded ones. */
	id = profile__add_location(p, 9, 0x1030, NULL, 0);
	assert_int_equal(id, 8);
	assert_int_equal(profile__location(p, 8)->address, 0x1030);
	assert_int_equal(profile__location(p, 7)->address, 0x1010);
	md.memory_start = 0x2000;
	assert_int_equal(profile__add_mapping(p, &md), 10);
	assert_int_equal(profile__mapping(p, 10)->memory_start, 0x2000);
	assert_int_equal(profile__add_function(p, "other", NULL, NULL, 0), 2);
	profile__free(p);
}

static void test_index_ids_rejects(void **state)
{
	struct profile *p = decoded_like();

	p->locations[1].id = 7;
	assert_int_equal(profile__index_ids(p), -EINVAL);
	profile__free(p);

	p = decoded_like();
	p->functions[0].id = 0;
	assert_int_equal(profile__index_ids(p), -EINVAL);
	profile__free(p);

	/* Dense ids need no index at all. */
	p = decoded_like();
	p->locations[0].id = 1;
	p->locations[1].id = 2;
	p->mappings[0].id = 1;
	assert_int_equal(profile__index_ids(p), 0);
	assert_null(p->index);
	assert_int_equal(profile__location(p, 2)->address, 0x1020);
	assert_null(profile__location(p, 3));
	profile__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoded_profile_lazy_index),
		cmocka_unit_test(test_index_ids_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
