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
#include "exitcode.h"
#include "log.h"
#include "profile.h"
#include "session.h"
#include "stacks.h"
#include "target.h"

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

static struct cpu_bpf *open_and_load(struct session *s, const struct cpu_opts *o, bool btf,
				     int *err)
{
	struct cpu_bpf *skel = cpu_bpf__open();

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	skel->rodata->target_mode = s->target->mode;
	skel->rodata->capture_user = o->user;
	skel->rodata->capture_kernel = o->kernel;
	skel->rodata->per_thread = o->per_thread;
	skel->rodata->follow_children = o->follow_children;
	bpf_map__set_max_entries(skel->maps.counts, COUNTS_MAX_ENTRIES);
	bpf_map__set_max_entries(skel->maps.stacks, stacks_map_size(s, o));
	collect_select_tp(skel->obj, btf);
	*err = cpu_bpf__load(skel);
	if (*err) {
		cpu_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static int attach_lifecycle(struct cpu_bpf *skel, bool btf)
{
	struct bpf_program *fork = btf ? skel->progs.fork_btf : skel->progs.fork_raw;
	struct bpf_program *exec = btf ? skel->progs.exec_btf : skel->progs.exec_raw;
	struct bpf_link *l;

	/* The links live as long as the skeleton: kept in its link slots. */
	l = bpf_program__attach(fork);
	if (!l)
		return -errno;
	if (btf)
		skel->links.fork_btf = l;
	else
		skel->links.fork_raw = l;
	l = bpf_program__attach(exec);
	if (!l)
		return -errno;
	if (btf)
		skel->links.exec_btf = l;
	else
		skel->links.exec_raw = l;
	return 0;
}

/* Reads every (key, count) and adds it to p as a sample. */
static int build_samples(struct session *s, struct cpu_bpf *skel, struct profile *p, int64_t period,
			 struct stack_resolver *r)
{
	int counts_fd = bpf_map__fd(skel->maps.counts);
	struct stack_key key, next, *prev = NULL;
	uint64_t locs[STACKS_MAX_LOCATIONS];
	char comm[BPFPROF_COMM_LEN + 1];
	struct pf_label_desc labels[4];
	int64_t values[2];
	__u64 count;
	int n, nlabels, err;

	while (bpf_map_get_next_key(counts_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(counts_fd, &key, &count))
			continue;
		n = stack_resolver__locations(r, key.pid, key.user_stack, key.kern_stack, locs,
					      STACKS_MAX_LOCATIONS);
		if (n < 0)
			return n;
		nlabels = collect_key_labels(s, &key, comm, labels);
		values[0] = count;
		values[1] = count * period;
		err = profile__add_sample(p, locs, n, values, labels, nlabels);
		if (err)
			return err;
	}
	return 0;
}

static int make_profile(struct session *s, struct cpu_bpf *skel, const struct cpu_opts *o,
			struct profile **out)
{
	int64_t period = 1000000000LL / o->freq;
	uint64_t counters[CNT__MAX];
	struct stack_resolver *r;
	struct profile *p;
	int err;

	p = profile__new();
	if (!p)
		return -ENOMEM;
	err = profile__add_sample_type(p, "samples", "count");
	if (!err)
		err = profile__add_sample_type(p, "cpu", "nanoseconds");
	if (!err)
		err = profile__set_period(p, "cpu", "nanoseconds", period);
	if (err)
		goto cleanup;
	p->time_nanos = s->start_wall;
	p->duration_nanos = s->elapsed_ns;

	r = stack_resolver__new(p, s->sym, bpf_map__fd(skel->maps.stacks));
	if (!r) {
		err = -errno;
		goto cleanup;
	}
	err = build_samples(s, skel, p, period, r);
	if (!err) {
		session__counters(s, counters);
		session__report_losses(s, counters, stack_resolver__unmapped(r), p);
	}
	stack_resolver__free(r);
cleanup:
	if (err) {
		profile__free(p);
		return err;
	}
	*out = p;
	return 0;
}

int collect_cpu(struct session *s, const struct cpu_opts *o, struct profile **out)
{
	struct perf_links links = { 0 };
	struct cpu_bpf *skel;
	bool btf = true;
	int err, ret, i;

	skel = open_and_load(s, o, btf, &err);
	if (!skel) {
		pr_debug("tp_btf programs did not load (%s), trying raw tracepoints\n",
			 strerror(-err));
		btf = false;
		skel = open_and_load(s, o, btf, &err);
	}
	if (!skel)
		return collect_explain("load the BPF program", err);

	ret = collect_fill_target(s, skel->obj);
	if (ret)
		goto cleanup;
	err = session__watch_processes(s, bpf_map__fd(skel->maps.proc_events),
				       bpf_map__fd(skel->maps.counters));
	if (err) {
		ret = collect_explain("read process events", err);
		goto cleanup;
	}
	for (i = 0; i < s->target->npids; i++)
		session__track(s, s->target->pids[i], NULL);

	err = attach_lifecycle(skel, btf);
	if (err) {
		ret = collect_explain("attach to the sched_process tracepoints", err);
		goto cleanup;
	}
	ret = collect_attach_cpu_clock(skel->progs.on_cpu_sample, o->freq, o->kernel_only, &links);
	if (ret)
		goto cleanup;
	if (target__start(s->target)) {
		ret = EXIT_TARGET;
		goto cleanup;
	}

	err = session__run(s);
	/* Stop sampling before reading, so the maps hold still. */
	collect_detach(&links);
	if (err)
		pr_warn("capture ended early: %s\n", strerror(-err));
	err = make_profile(s, skel, o, out);
	if (err) {
		pr_warn("cannot build the profile: %s\n", strerror(-err));
		ret = EXIT_FAIL;
	}
cleanup:
	collect_detach(&links);
	cpu_bpf__destroy(skel);
	return ret;
}
