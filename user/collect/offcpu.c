// SPDX-License-Identifier: Apache-2.0
/*
 * Off-CPU profile collector (Go's block profile): offcpu.bpf.c sums, per
 * stack key and state, how often and how long target threads were off the
 * CPU.  Threads still off-CPU when the capture ends are counted up to the
 * end, from the starts map.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "collect/collect.h"
#include "exitcode.h"
#include "log.h"
#include "offcpu.skel.h"
#include "profile.h"
#include "session.h"
#include "target.h"
#include "util.h"

#define BLOCKS_MAX_ENTRIES 65536

static const char *const state_names[OFFCPU_STATE__MAX] = {
	[OFFCPU_RUNNABLE] = "runnable",
	[OFFCPU_SLEEPING] = "sleeping",
	[OFFCPU_DISK] = "disk",
	[OFFCPU_STOPPED] = "stopped",
};

int offcpu_state_parse(const char *name)
{
	int i;

	for (i = 0; i < OFFCPU_STATE__MAX; i++)
		if (!strcmp(name, state_names[i]))
			return i;
	return -EINVAL;
}

const char *offcpu_state_name(int state)
{
	return state >= 0 && state < OFFCPU_STATE__MAX ? state_names[state] : "unknown";
}

/* Since 5.18 sched_switch passes prev_state, the state the scheduler acted on. */
static bool has_prev_state_arg(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	bool found = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "btf_trace_sched_switch", BTF_KIND_TYPEDEF);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	if (t)
		t = btf__type_by_id(btf, t->type); /* pointer */
	if (t && btf_is_ptr(t))
		t = btf__type_by_id(btf, t->type);
	/* (void *data, bool preempt, prev, next, unsigned int prev_state) */
	if (t && btf_is_func_proto(t))
		found = btf_vlen(t) >= 5;
	btf__free(btf);
	return found;
}

static void *open_and_load(struct session *s, const void *opts, bool btf, int *err)
{
	const struct offcpu_opts *o = opts;
	struct offcpu_bpf *skel = offcpu_bpf__open();
	bool system = s->target->mode != TARGET_PIDS;

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	skel->rodata->target_mode = s->target->mode;
	skel->rodata->per_thread = o->st.per_thread;
	skel->rodata->follow_children = o->st.follow_children;
	skel->rodata->unwind_dwarf = o->st.dwarf;
	collect_unwind_configure(skel->obj, &o->st);
	skel->rodata->min_block_ns = o->min_block_ns;
	skel->rodata->state_mask = o->states;
	skel->rodata->prev_state_arg = has_prev_state_arg();
	/* Target threads (an entry each while they live), and their stacks. */
	bpf_map__set_max_entries(skel->maps.starts, system ? 65536 : 16384);
	bpf_map__set_max_entries(skel->maps.stacks, system ? 32768 : 16384);
	bpf_map__set_max_entries(skel->maps.blocks, BLOCKS_MAX_ENTRIES);
	collect_select_tp(skel->obj, btf);
	*err = offcpu_bpf__load(skel);
	if (*err) {
		offcpu_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static int state_label(__u32 state, struct pf_label_desc *label)
{
	*label = (struct pf_label_desc){ .key = "state", .str = offcpu_state_name(state) };
	return 1;
}

/* blocks: (stack key, state) → {intervals, ns off-CPU}. */
static int block_entry(const void *key, const void *value, int64_t *values,
		       struct pf_label_desc *extra, void *arg)
{
	const struct offcpu_key *k = key;
	const struct offcpu_val *v = value;

	values[0] = v->count;
	values[1] = v->total_ns;
	return state_label(k->state, extra);
}

struct fill_ctx {
	struct offcpu_bpf *skel;
	int64_t min_block_ns;
	int64_t end_ns; /* CLOCK_MONOTONIC, after the programs were detached */
};

/* The CPU time a thread has had (ns), or -1 when it is gone or unreadable. */
static int64_t thread_runtime(__u32 pid, __u32 tid)
{
	char path[64];
	long long run;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/schedstat", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fscanf(f, "%lld", &run);
	fclose(f);
	return n == 1 ? run : -1;
}

/*
 * Threads still off-CPU at the end: each counts as one interval, up to the
 * end, so a thread parked for the whole capture shows its wait.  Some
 * switches never reach the tracepoint, so an entry may be stale: a thread
 * that is gone, or has run since it left, is not counted but reported.
 */
static int add_in_progress(struct sample_sink *k, const struct fill_ctx *c)
{
	int fd = bpf_map__fd(c->skel->maps.starts);
	__u32 tid, next, *prev = NULL;
	struct offcpu_start start;
	struct pf_label_desc label;
	int64_t values[2], runtime;
	uint64_t n = 0;
	char line[160];
	int err;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		tid = next;
		prev = &tid;
		if (bpf_map_lookup_elem(fd, &tid, &start) || !start.ts_ns)
			continue; /* running */
		runtime = thread_runtime(start.key.key.pid, tid);
		if (runtime < 0 || runtime > (int64_t)start.runtime_ns) {
			k->counters[CNT_OFFCPU_UNPAIRED]++;
			continue;
		}
		values[0] = 1;
		values[1] = c->end_ns - (int64_t)start.ts_ns;
		if (values[1] < c->min_block_ns)
			continue;
		state_label(start.key.state, &label);
		err = collect_add_sample(k, &start.key.key, values, &label, 1);
		if (err)
			return err;
		n++;
	}
	if (!n)
		return 0;
	snprintf(line, sizeof(line),
		 "%" PRIu64 " off-CPU intervals still in progress at the end, counted up to "
		 "the end of the capture",
		 n);
	pr_debug("%s\n", line);
	return profile__add_comment(k->p, line);
}

static int fill(struct sample_sink *k, void *arg)
{
	struct fill_ctx *c = arg;
	int err;

	k->trim_tracing = true;
	err = collect_add_map(k, bpf_map__fd(c->skel->maps.blocks), block_entry, NULL);
	if (!err)
		err = add_in_progress(k, c);
	return err;
}

int collect_offcpu(struct session *s, const struct offcpu_opts *o, struct profile **out)
{
	/* Go's block profile. */
	static const struct value_type_desc types[] = {
		{ "contentions", "count" },
		{ "delay", "nanoseconds" },
	};
	static const struct profile_shape shape = {
		.types = types,
		.ntypes = 2,
		.period_type = { "contentions", "count" },
		.period = 1,
	};
	struct collect_links links = { 0 };
	struct fill_ctx c = { .min_block_ns = o->min_block_ns };
	int ret;

	s->noun = "off-CPU intervals";
	s->idle = "left no CPU during the capture (threads asleep since before it are not seen)";
	/* Every stack starts in __schedule: rank by the blocking user function. */
	s->top_user = true;
	c.skel = collect_load(open_and_load, s, o, &ret);
	if (!c.skel)
		return ret;
	ret = collect_begin(s, c.skel->obj, &links);
	if (!ret)
		ret = collect_run(s, &links);
	if (ret)
		goto cleanup;
	c.end_ns = mono_ns();
	ret = collect_make_profile(s, &shape, bpf_map__fd(c.skel->maps.stacks), fill, &c, out);
cleanup:
	collect_detach(&links);
	offcpu_bpf__destroy(c.skel);
	return ret;
}
