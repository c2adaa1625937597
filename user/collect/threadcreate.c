// SPDX-License-Identifier: Apache-2.0
/*
 * Thread creation profile collector (Go's threadcreate profile):
 * threadcreate.bpf.c counts the forks and clones of targets per stack key
 * of the parent and kind (thread or process).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/collect.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "capture/target.h"
#include "threadcreate.skel.h"

#define CREATES_MAX_ENTRIES 16384

static void *open_and_load(struct session *s, const void *opts, bool btf, int *err)
{
	const struct threadcreate_opts *o = opts;
	struct threadcreate_bpf *skel = threadcreate_bpf__open();

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	CAPTURE_SET_STACK_RODATA(skel, s, &o->st);
	bpf_map__set_max_entries(skel->maps.creates, CREATES_MAX_ENTRIES);
	bpf_map__set_max_entries(skel->maps.stacks, 8192);
	capture_select_tp(skel->obj, btf);
	*err = threadcreate_bpf__load(skel);
	if (*err) {
		threadcreate_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* creates: (stack key, kind) → creations. */
static int create_entry(const void *key, const void *value, int64_t *values,
			struct pf_label_desc *extra, void *arg)
{
	const struct threadcreate_key *k = key;
	const __u64 *count = value;

	values[0] = *count;
	extra[0] = (struct pf_label_desc){
		.key = "kind",
		.str = k->kind == CREATE_PROCESS ? "process" : "thread",
	};
	return 1;
}

static int fill(struct sample_sink *k, void *arg)
{
	struct threadcreate_bpf *skel = arg;

	k->trim_tracing = true;
	return capture_add_map(k, bpf_map__fd(skel->maps.creates), create_entry, NULL);
}

int collect_threadcreate(struct session *s, const struct threadcreate_opts *o, struct profile **out)
{
	/* Go's threadcreate profile. */
	static const struct value_type_desc types[] = {
		{ "threadcreate", "count" },
	};
	static const struct profile_shape shape = {
		.types = types,
		.ntypes = 1,
		.period_type = { "threadcreate", "count" },
		.period = 1,
	};
	struct capture_links links = { 0 };
	struct threadcreate_bpf *skel;
	int ret;

	s->noun = "threads and processes created";
	s->idle = "created no thread or process during the capture";
	/*
	 * Every stack starts in kernel_clone, then the C library (clone3,
	 * pthread_create, fork): rank by the function that asked for the thread.
	 */
	s->top_caller = true;
	/* A launched command waits while its new mappings are read (session.h). */
	s->cont_after_maps = s->target->argv != NULL;
	skel = capture_load(open_and_load, s, o, &ret);
	if (!skel)
		return ret;
	ret = capture_begin(s, skel->obj, &links);
	if (!ret)
		ret = capture_run(s, &links);
	if (ret)
		goto cleanup;
	ret = capture_make_profile(s, &shape, bpf_map__fd(skel->maps.stacks), fill, skel, out);
cleanup:
	capture_detach(&links);
	threadcreate_bpf__destroy(skel);
	return ret;
}
