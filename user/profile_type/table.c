// SPDX-License-Identifier: Apache-2.0
/*
 * Every profile type: one row each, in 'bpfprof --help' order.  A row
 * names NAME_type, the descriptor collect/NAME.c defines.
 */
#include <stdlib.h>
#include <string.h>

#include "profile_type/profile_type.h"

#define PROFILE_TYPES(X)                                                                           \
	X(cpu)                                                                                     \
	X(offcpu)                                                                                  \
	X(threadcreate)                                                                            \
	X(mutex)                                                                                   \
	X(heap)                                                                                    \
	X(threads)

#define DECLARE(name) extern const struct profile_type name##_type;
PROFILE_TYPES(DECLARE)
#undef DECLARE

#define ROW(name) &name##_type,
const struct profile_type *const profile_types[] = { PROFILE_TYPES(ROW) };
#undef ROW

const size_t nprofile_types = sizeof(profile_types) / sizeof(profile_types[0]);

const struct profile_type *profile_type__find(const char *name)
{
	size_t i;

	for (i = 0; i < nprofile_types; i++)
		if (!strcmp(profile_types[i]->name, name))
			return profile_types[i];
	return NULL;
}

const struct type_view *profile_type__view(const struct profile_type *t, const void *opts)
{
	return t->view_of ? t->view_of(opts) : &t->view;
}

void agent_capture__free(struct agent_capture *c)
{
	capture_detach(&c->links);
	if (c->skel)
		c->destroy(c->skel);
	free(c->entry_arg);
	memset(c, 0, sizeof(*c));
}
