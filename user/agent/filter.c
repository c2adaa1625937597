// SPDX-License-Identifier: Apache-2.0
#include "agent/filter.h"

#include <stddef.h>
#include <string.h>

bool agent_filter__empty(const struct agent_filter *f)
{
	return !f || (!f->service && !f->pod && !f->namespace && !f->container && !f->container_id);
}

static const char *label(const char *key, int n, char *const *keys, char *const *values)
{
	int i;

	for (i = 0; i < n; i++)
		if (keys[i] && values[i] && !strcmp(keys[i], key))
			return values[i];
	return NULL;
}

/* want NULL: any; else the label must be there and equal (or start with want). */
static bool label_ok(const char *want, bool prefix, const char *key, int n, char *const *keys,
		     char *const *values)
{
	const char *v;

	if (!want)
		return true;
	v = label(key, n, keys, values);
	if (!v)
		return false;
	return prefix ? !strncmp(v, want, strlen(want)) : !strcmp(v, want);
}

bool agent_filter__match(const struct agent_filter *f, const char *name, int nlabels,
			 char *const *keys, char *const *values)
{
	if (!f)
		return true;
	if (f->service && (!name || strcmp(name, f->service)))
		return false;
	return label_ok(f->pod, false, "pod", nlabels, keys, values) &&
	       label_ok(f->namespace, false, "namespace", nlabels, keys, values) &&
	       label_ok(f->container, false, "container", nlabels, keys, values) &&
	       label_ok(f->container_id, true, "container_id", nlabels, keys, values);
}
