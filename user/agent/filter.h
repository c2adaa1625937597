/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which services a /debug/pprof request wants: service= matches the
 * service's name, pod=, namespace= and container= the labels of the same
 * names that the container provider gave it (agent/labels.h), container_id=
 * a prefix of its container_id label (as `docker ps` shortens them).  Every
 * filter given must match; a service without the label never matches it.
 */
#ifndef BPFPROF_AGENT_FILTER_H
#define BPFPROF_AGENT_FILTER_H

#include <stdbool.h>

/* NULL: any. */
struct agent_filter {
	const char *service, *pod, *namespace, *container, *container_id;
};

/* Whether no filter is given. */
bool agent_filter__empty(const struct agent_filter *f);

/* Whether a service named name with labels keys[i]=values[i] passes f (NULL: all pass). */
bool agent_filter__match(const struct agent_filter *f, const char *name, int nlabels,
			 char *const *keys, char *const *values);

#endif
