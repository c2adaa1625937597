// SPDX-License-Identifier: Apache-2.0
/*
 * CPU profile collector: cpu.bpf.c counts samples per stack key in the
 * kernel; at the end we read the counts once and build a profile with Go's
 * CPU profile names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/collect.h"
#include "cpu.skel.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "capture/target.h"

#define COUNTS_MAX_ENTRIES 65536

/*
 * The stacks map is preallocated (about 1 KiB an entry): size it for what
 * the capture can produce, at most two new stacks a sample.
 */
static __u32 stacks_map_size(const struct session *s, const struct cpu_opts *o)
{
	double samples = (double)libbpf_num_possible_cpus() * o->freq * 2;

	if (!s->duration_ns)
		return 32768;
	samples *= s->duration_ns / 1e9;
	if (samples < 4096)
		return 4096;
	return samples > 131072 ? 131072 : (__u32)samples;
}

static void *open_and_load(struct session *s, const void *opts, bool btf, int *err)
{
	const struct cpu_opts *o = opts;
	struct cpu_bpf *skel = cpu_bpf__open();

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	CAPTURE_SET_STACK_RODATA(skel, s, &o->st);
	skel->rodata->capture_user = o->user;
	skel->rodata->capture_kernel = o->kernel;
	bpf_map__set_max_entries(skel->maps.counts, COUNTS_MAX_ENTRIES);
	bpf_map__set_max_entries(skel->maps.stacks, stacks_map_size(s, o));
	capture_select_tp(skel->obj, btf);
	*err = cpu_bpf__load(skel);
	if (*err) {
		cpu_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* counts: stack_key → samples; each sample stands for period ns. */
static int count_entry(const void *key, const void *value, int64_t *values,
		       struct pf_label_desc *extra, void *arg)
{
	const __u64 *count = value;
	const int64_t *period = arg;

	values[0] = *count;
	values[1] = *count * *period;
	return 0;
}

static int fill(struct sample_sink *k, void *arg)
{
	struct cpu_bpf *skel = arg;
	int64_t period = k->p->period;

	return capture_add_map(k, bpf_map__fd(skel->maps.counts), count_entry, &period);
}

int collect_cpu(struct session *s, const struct cpu_opts *o, struct profile **out)
{
	static const struct value_type_desc types[] = {
		{ "samples", "count" },
		{ "cpu", "nanoseconds" },
	};
	const struct profile_shape shape = {
		.types = types,
		.ntypes = 2,
		.period_type = { "cpu", "nanoseconds" },
		.period = 1000000000LL / o->freq,
	};
	struct capture_links links = { 0 };
	struct cpu_bpf *skel;
	int ret;

	/*
	 * A launched command waits while its new mappings are read (session.h):
	 * its first samples, in code the loader has just mapped, keep their
	 * callers.  Stopped, it takes no samples, so its profile is unchanged.
	 */
	s->cont_after_maps = s->target->argv != NULL;
	skel = capture_load(open_and_load, s, o, &ret);
	if (!skel)
		return ret;
	ret = capture_begin(s, skel->obj, &links);
	if (!ret)
		ret = capture_attach_cpu_clock(skel->progs.on_cpu_sample, o->freq, o->kernel_only,
					       &links);
	if (!ret)
		ret = capture_run(s, &links);
	if (ret)
		goto cleanup;
	ret = capture_make_profile(s, &shape, bpf_map__fd(skel->maps.stacks), fill, skel, out);
cleanup:
	capture_detach(&links);
	cpu_bpf__destroy(skel);
	return ret;
}
