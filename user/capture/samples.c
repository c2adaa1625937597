// SPDX-License-Identifier: Apache-2.0
/*
 * From the kernel's aggregates to a profile, for every collector: the
 * profile's shape, one sample per aggregation map entry (its stacks resolved
 * and its standard labels), and the loss report.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "bpfprof/types.h"
#include "capture/capture.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "symbolize/symbolize.h"
#include "util/util.h"
#include "capture/stacks.h"
#include "proc/container.h"
#include "proc/procs.h"

/* Sample types a profile type may have: enough for any Go profile. */
#define MAX_SAMPLE_TYPES 8

int capture_key_labels(struct session *s, const struct stack_key *key, char *comm_buf,
		       struct pf_label_desc *labels)
{
	const char *process = session__process_name(s, key->pid);
	const struct pproc *proc = s && s->procs_tab ? proctab__find(s->procs_tab, key->pid) : NULL;
	const char *procfs = s && s->procs_tab ? proctab__procfs(s->procs_tab) : "/proc";
	const struct container_meta *m = NULL;
	int n = 0;

	memcpy(comm_buf, key->comm, BPFPROF_COMM_LEN);
	comm_buf[BPFPROF_COMM_LEN] = '\0';
	labels[n++] = (struct pf_label_desc){ .key = "pid", .num = key->pid };
	if (key->tid)
		labels[n++] = (struct pf_label_desc){ .key = "tid", .num = key->tid };
	labels[n++] = (struct pf_label_desc){ .key = "comm", .str = comm_buf };
	labels[n++] =
		(struct pf_label_desc){ .key = "process", .str = process ? process : comm_buf };
	/*
	 * An error (ENOMEM) costs the container labels, not the sample.  A
	 * process found gone keeps the answer it had; procfs has no other.
	 */
	if (proc && proc->exited ? container_of_gone_pid(key->pid, &m)
				 : container_of_pid(procfs, key->pid, &m))
		return n;
	if (!m)
		return n;
	labels[n++] = (struct pf_label_desc){ .key = "container_id", .str = m->id };
	if (m->name[0])
		labels[n++] = (struct pf_label_desc){ .key = "container", .str = m->name };
	if (m->pod[0])
		labels[n++] = (struct pf_label_desc){ .key = "pod", .str = m->pod };
	if (m->namespace[0])
		labels[n++] = (struct pf_label_desc){ .key = "namespace", .str = m->namespace };
	return n;
}

/*
 * Tracepoint machinery at the top of a kernel stack: how many frames of it
 * there are varies with how many programs use the tracepoint (one is called
 * directly, several through __traceiter_*), so the BPF side skips only the
 * frames always there and the rest go here.
 */
static bool is_tracing_frame(const struct profile *p, uint64_t loc_id)
{
	static const char *const prefixes[] = { "__traceiter_", "__bpf_trace_", "bpf_trace_run",
						"bpf_prog_" };
	const struct pf_location *loc = profile__location(p, loc_id);
	const struct pf_function *fn;
	const char *name;
	size_t i;

	if (!loc || loc->nlines == 0 || !(fn = profile__function(p, loc->lines[0].function_id)))
		return false;
	name = profile__str(p, fn->name);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static bool in_trim_range(const struct sample_sink *k, uint64_t loc_id)
{
	const struct pf_location *loc;

	if (k->trim_lo >= k->trim_hi)
		return false;
	loc = profile__location(k->p, loc_id);
	return loc && loc->address >= k->trim_lo && loc->address < k->trim_hi;
}

int capture_add_sample(struct sample_sink *k, const struct stack_key *key, const int64_t *values,
		       const struct pf_label_desc *extra, int nextra)
{
	struct pf_label_desc labels[CAPTURE_KEY_LABELS_MAX + CAPTURE_MAX_EXTRA_LABELS];
	uint64_t locs[STACKS_MAX_LOCATIONS];
	char comm[BPFPROF_COMM_LEN + 1];
	int n, nlabels, i, skip;

	n = stack_resolver__locations(k->r, key->pid, key->user_stack, key->kern_stack, locs,
				      STACKS_MAX_LOCATIONS);
	if (n < 0)
		return n;
	for (skip = 0; k->trim_tracing && skip < n - 1 && is_tracing_frame(k->p, locs[skip]);
	     skip++)
		;
	for (; skip < n - 1 && in_trim_range(k, locs[skip]); skip++)
		;
	nlabels = capture_key_labels(k->s, key, comm, labels);
	for (i = 0; i < nextra && i < CAPTURE_MAX_EXTRA_LABELS; i++)
		labels[nlabels++] = extra[i];
	return profile__add_sample(k->p, locs + skip, n - skip, values, labels, nlabels);
}

int capture_add_map(struct sample_sink *k, int map_fd, capture_entry_fn fn, void *arg)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	struct pf_label_desc extra[CAPTURE_MAX_EXTRA_LABELS];
	int64_t values[MAX_SAMPLE_TYPES];
	void *key = NULL, *next = NULL, *val = NULL;
	bool first = true;
	int nextra, err;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	if (info.key_size < sizeof(struct stack_key) || k->p->nsample_types > MAX_SAMPLE_TYPES)
		return -EINVAL;
	key = malloc(info.key_size);
	next = malloc(info.key_size);
	val = malloc(info.value_size);
	if (!key || !next || !val) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = 0;
	while (bpf_map_get_next_key(map_fd, first ? NULL : key, next) == 0) {
		first = false;
		memcpy(key, next, info.key_size);
		if (bpf_map_lookup_elem(map_fd, key, val))
			continue; /* deleted meanwhile */
		memset(values, 0, sizeof(values));
		nextra = fn(key, val, values, extra, arg);
		if (nextra < 0)
			continue;
		err = capture_add_sample(k, key, values, extra, nextra);
		if (err)
			break;
	}
cleanup:
	free(key);
	free(next);
	free(val);
	return err;
}

struct pid_weight {
	int64_t pid;
	int64_t weight;
};

static int cmp_pid(const void *a, const void *b)
{
	const struct pid_weight *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The pid label of s, or -1. */
static int64_t sample_pid(const struct profile *p, const struct pf_sample *s)
{
	size_t i;

	for (i = 0; i < s->nlabels; i++)
		if (!s->labels[i].str && !strcmp(profile__str(p, s->labels[i].key), "pid"))
			return s->labels[i].num;
	return -1;
}

static int cmp_weight(const void *a, const void *b)
{
	const struct pid_weight *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return cmp_pid(a, b);
}

/*
 * The pids of p's samples with their weights (absolute values of the first
 * sample type), heaviest first, in *out (malloc'd); returns how many or
 * -ENOMEM.
 */
static long pids_by_weight(const struct profile *p, struct pid_weight **out)
{
	struct pid_weight *w;
	size_t i, n = 0, runs = 0;

	w = malloc((p->nsamples ? p->nsamples : 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (i = 0; i < p->nsamples; i++) {
		int64_t pid = sample_pid(p, &p->samples[i]), v = p->samples[i].values[0];

		if (pid >= 0)
			w[n++] = (struct pid_weight){ pid, v < 0 ? -v : v };
	}
	qsort(w, n, sizeof(*w), cmp_pid);
	for (i = 0; i < n;) {
		struct pid_weight run = w[i];

		while (++i < n && w[i].pid == run.pid)
			run.weight += w[i].weight;
		w[runs++] = run;
	}
	qsort(w, runs, sizeof(*w), cmp_weight);
	*out = w;
	return (long)runs;
}

int capture_lead_mapping(struct session *s, struct profile *p)
{
	const struct pproc *proc = NULL;
	const struct pmap *em = NULL;
	struct pf_mapping_desc d;
	struct pid_weight *w;
	uint64_t id = 0;
	long n, i;

	if (!s || !s->procs_tab || !p->nsample_types)
		return 0;
	n = pids_by_weight(p, &w);
	if (n < 0)
		return (int)n;
	/* The heaviest process with an executable (not a kernel thread). */
	for (i = 0; i < n && !em; i++) {
		proc = proctab__find(s->procs_tab, (int)w[i].pid);
		em = pproc__exe_map(proc);
	}
	free(w);
	if (!em)
		return 0;
	for (i = 0; i < (long)p->nmappings; i++) {
		const struct pf_mapping *m = &p->mappings[i];

		if (strcmp(profile__str(p, m->filename), proc->exe))
			continue;
		if (!id || m->memory_start == em->start)
			id = m->id;
		if (m->memory_start == em->start)
			break;
	}
	if (!id) {
		/* No sample ran in the program itself: pprof still names it. */
		d = (struct pf_mapping_desc){
			.memory_start = em->start,
			.memory_limit = em->end,
			.file_offset = em->offset,
			.filename = proc->exe,
			.build_id = em->file ? em->file->build_id : "",
		};
		id = profile__add_mapping(p, &d);
		if (!id)
			return -ENOMEM;
	}
	return profile__lead_mapping(p, id);
}

const struct counter_desc capture_counters[CNT__MAX] = {
#define COUNTER_ROW(name, kind, message) [name] = { #name, COUNTER_##kind, message },
	BPFPROF_COUNTERS(COUNTER_ROW)
#undef COUNTER_ROW
};

/* One line of the report: a comment in p, and on stderr at level (LOG_QUIET: not). */
static int report_line(struct profile *p, int level, const char *line)
{
	if (level != LOG_QUIET)
		log_print(level, "%s\n", line);
	return profile__add_comment(p, line);
}

int capture_report_counters(const uint64_t c[CNT__MAX], const char *noun, uint64_t unmapped,
			    struct profile *p, bool final)
{
	const struct counter_desc *d;
	char line[320];
	int i, err = 0;

	for (i = 0; i < CNT__MAX && !err; i++) {
		d = &capture_counters[i];
		if (!c[i])
			continue;
		switch (d->kind) {
		case COUNTER_LOSS:
			snprintf(line, sizeof(line), "%" PRIu64 " %s (%.1f%% of %s)", c[i],
				 d->message, c[CNT_EVENTS] ? 100.0 * c[i] / c[CNT_EVENTS] : 0.0,
				 noun);
			err = report_line(p, final ? LOG_WARN : LOG_QUIET, line);
			break;
		case COUNTER_NOTE:
			snprintf(line, sizeof(line), "%" PRIu64 " %s", c[i], d->message);
			err = report_line(p, final ? LOG_INFO : LOG_QUIET, line);
			break;
		case COUNTER_DEBUG:
			if (final)
				pr_debug("%s: %" PRIu64 " %s\n", d->name, c[i], d->message);
			break;
		}
	}
	if (!err && unmapped) {
		snprintf(line, sizeof(line),
			 "%" PRIu64 " frames in no known mapping (a frame-pointer walk "
			 "through code without frame pointers, or a process gone before "
			 "its mappings were read; -v lists them)",
			 unmapped);
		err = report_line(p, final ? LOG_WARN : LOG_QUIET, line);
	}
	return err;
}

int capture_report_losses(struct session *s, const uint64_t c[CNT__MAX], uint64_t unmapped,
			  struct profile *p, bool final)
{
	char line[256];
	int err;

	snprintf(line, sizeof(line),
		 "bpfprof: %" PRIu64 " %s, %" PRIu64 " without a user stack (kernel threads)",
		 c[CNT_EVENTS], s->noun, c[CNT_USTACK_NONE]);
	err = profile__add_comment(p, line);
	return err ? err : capture_report_counters(c, s->noun, unmapped, p, final);
}

static struct profile *new_profile(struct session *s, const struct profile_shape *shape)
{
	struct profile *p = profile__new();
	int i, err = 0;

	if (!p)
		return NULL;
	for (i = 0; i < shape->ntypes && !err; i++)
		err = profile__add_sample_type(p, shape->types[i].type, shape->types[i].unit);
	if (!err)
		err = profile__set_period(p, shape->period_type.type, shape->period_type.unit,
					  shape->period);
	if (err) {
		profile__free(p);
		errno = -err;
		return NULL;
	}
	p->time_nanos = s->start_wall;
	p->duration_nanos = s->elapsed_ns;
	return p;
}

/* What the runtimes' perf maps and jitdumps gave, and what reading them cost. */
static void jit_report(struct session *s, struct profile *p, bool final)
{
	const struct sym_jit_stats *st = symbolizer__jit_stats(s->sym);
	char line[256];

	if (!st->map_entries && !st->dump_entries)
		return;
	snprintf(line, sizeof(line),
		 "JIT names: %" PRIu64 " from perf maps, %" PRIu64 " from jitdumps, of %" PRIu64
		 " processes; %" PRIu64 " reads (%" PRIu64 " after a miss), %" PRIu64
		 " KiB of maps read in %.1f ms",
		 st->map_entries, st->dump_entries, st->procs, st->reads, st->miss_reads,
		 st->map_bytes / 1024, st->read_ns / 1e6);
	if (final)
		pr_debug("%s\n", line);
	profile__add_comment(p, line);
}

static int make_profile(struct session *s, const struct profile_shape *shape, int stacks_fd,
			capture_fill_fn fill, void *arg, struct profile **out, bool final)
{
	struct sample_sink k = { .s = s };
	int err;

	k.p = new_profile(s, shape);
	if (!k.p) {
		err = -errno;
		goto cleanup;
	}
	k.r = stack_resolver__new(k.p, s->sym, stacks_fd);
	if (!k.r) {
		err = -errno;
		goto cleanup;
	}
	session__counters(s, k.counters);
	err = fill(&k, arg);
	if (!err)
		err = capture_lead_mapping(s, k.p);
	if (!err) {
		capture_report_losses(s, k.counters, stack_resolver__unmapped(k.r), k.p, final);
		capture_unwind_report(s, k.p, final);
		jit_report(s, k.p, final);
	}
	stack_resolver__free(k.r);
cleanup:
	if (err) {
		pr_warn("cannot build the profile: %s\n", strerror(-err));
		profile__free(k.p);
		return err;
	}
	*out = k.p;
	return 0;
}

int capture_make_profile(struct session *s, const struct profile_shape *shape, int stacks_fd,
			 capture_fill_fn fill, void *arg, struct profile **out)
{
	return make_profile(s, shape, stacks_fd, fill, arg, out, true);
}

int capture_make_snapshot(struct session *s, const struct profile_shape *shape, int stacks_fd,
			  capture_fill_fn fill, void *arg, struct profile **out)
{
	s->elapsed_ns = mono_ns() - s->start_mono;
	return make_profile(s, shape, stacks_fd, fill, arg, out, false);
}

const struct value_type_desc capture_contention_types[2] = {
	{ "contentions", "count" },
	{ "delay", "nanoseconds" },
};

const struct profile_shape capture_contention_shape = {
	.types = capture_contention_types,
	.ntypes = 2,
	.period_type = { "contentions", "count" },
	.period = 1,
};
