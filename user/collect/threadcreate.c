// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof threadcreate: which stacks create threads and processes, as Go's
 * threadcreate profile.  threadcreate.bpf.c counts the forks and clones of targets per stack key
 * of the parent and kind (thread or process).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "profile_type/collectors.h"
#include "profile_type/profile_type.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "capture/target.h"
#include "threadcreate.skel.h"
#include "util/util.h"

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

/* Go's threadcreate profile. */
static const struct value_type_desc threadcreate_types[] = {
	{ "threadcreate", "count" },
};

int collect_threadcreate(struct session *s, const struct threadcreate_opts *o, struct profile **out)
{
	static const struct profile_shape shape = {
		.types = threadcreate_types,
		.ntypes = 1,
		.period_type = { "threadcreate", "count" },
		.period = 1,
	};
	struct capture_links links = { 0 };
	struct threadcreate_bpf *skel;
	int ret;

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

/* --- the command line --- */

static const struct argp threadcreate_argp = {
	.args_doc = "[-- CMD [ARGS...]]",
	.doc = "Stacks that create threads and processes (Go's threadcreate profile).\n"
	       "Every fork, vfork and clone of a target counts once at the creating\n"
	       "thread's stack (label kind: thread or process).\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof threadcreate -p 1234 -d 30       who creates threads in pid 1234\n"
	       "  bpfprof threadcreate -- make -j4         every fork of a build\n"
	       "  go tool pprof -top -tagfocus=kind=thread threadcreate.pb.gz\n"
	       "\n" EXIT_CODES_HELP,
};

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_threadcreate(s, opts, out);
}

static const struct type_endpoint threadcreate_endpoints[] = {
	{ "threadcreate",
	  { 0 },
	  { 0 },
	  "Stacks that created threads and processes during the window." },
};

const struct profile_type threadcreate_type = {
	.name = "threadcreate",
	.summary = "stacks that create threads (Go's threadcreate)",
	.output = "threadcreate.pb.gz",
	.view = {
		.noun = "threads and processes created",
		.idle = "created no thread or process during the capture",
		.sample_types = threadcreate_types,
		.nsample_types = ARRAY_SIZE(threadcreate_types),
		.sample_index = 0,
		/*
		 * Every stack starts in kernel_clone, then the C library (clone3,
		 * pthread_create, fork): rank by the function that asked for the thread.
		 */
		.skip = REPORT_SKIP_KERNEL_LIBC,
	},
	.stop_for_maps = true,
	.stacks = TYPE_STACKS_THREADS,
	.argp = &threadcreate_argp,
	.opts_size = sizeof(struct threadcreate_opts),
	.collect = collect,
	.endpoints = threadcreate_endpoints,
	.nendpoints = ARRAY_SIZE(threadcreate_endpoints),
};
