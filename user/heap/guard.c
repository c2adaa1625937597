// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "heap/alloc.h"
#include "heap/guard.h"
#include "proc/stat.h"
#include "profile/profile.h"
#include "util/log.h"
#include "util/util.h"

int heap_calls_read(int calls_fd, int slot, int nprobes, struct heap_rate *r, bool zero)
{
	int ncpus = libbpf_num_possible_cpus(), c, i;
	struct heap_calls *vals;
	uint32_t key;

	memset(r->calls, 0, sizeof(r->calls));
	r->bytes = 0;
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < nprobes && i < HEAP_MAX_PROBES; i++) {
		key = HEAP_CALLS_KEY(slot, i);
		if (bpf_map_lookup_elem(calls_fd, &key, vals))
			continue;
		for (c = 0; c < ncpus; c++) {
			r->calls[i] += vals[c].calls;
			r->bytes += vals[c].bytes;
		}
		if (zero) {
			memset(vals, 0, ncpus * sizeof(*vals));
			bpf_map_update_elem(calls_fd, &key, vals, BPF_ANY);
		}
	}
	free(vals);
	return 0;
}

/* The counters and CPU time of t now. */
static int read_target(const struct heap_guard *g, int slot, struct heap_rate *now)
{
	const struct heap_guard_target *t = &g->targets[slot];
	int err;

	err = heap_calls_read(g->calls_fd, slot, t->alloc->nfuncs, now, false);
	if (err)
		return err;
	now->cpu_ns = proc_cpu_ns(t->pid);
	return now->cpu_ns < 0 ? (int)now->cpu_ns : 0;
}

int heap_guard__start(struct heap_guard *g, int calls_fd, const struct heap_costs *costs,
		      uint64_t rate, bool session, double max_overhead,
		      const struct heap_allocator *allocs, const int *pids, int ntargets)
{
	int i;

	memset(g, 0, sizeof(*g));
	g->calls_fd = calls_fd;
	g->costs = *costs;
	g->rate = rate;
	g->session = session;
	g->max_overhead = max_overhead;
	g->start_ns = g->last_ns = mono_ns();
	if (ntargets <= 0)
		return 0;
	g->targets = calloc(ntargets, sizeof(*g->targets));
	if (!g->targets)
		return -ENOMEM;
	g->ntargets = ntargets;
	for (i = 0; i < ntargets; i++) {
		g->targets[i].pid = pids[i];
		g->targets[i].alloc = &allocs[i];
		g->targets[i].gone = read_target(g, i, &g->targets[i].last) != 0;
	}
	return 0;
}

void heap_guard__free(struct heap_guard *g)
{
	free(g->targets);
	g->targets = NULL;
	g->ntargets = 0;
}

double heap_guard__judge(struct heap_guard *g, struct heap_guard_target *t, struct heap_rate *r,
			 double *calls_per_s)
{
	double slow;

	r->attached = true;
	slow = heap_expected_slowdown(t->alloc, &g->costs, r, g->rate, g->session, calls_per_s);
	if (slow > g->max_overhead)
		t->over++;
	else
		t->over = 0;
	return slow;
}

/* "by about 250%", or past 10-fold "more than 10-fold", as at attach. */
static void describe(double slow, char *buf, size_t len)
{
	/* Past 10-fold the process's own CPU time is too small to measure. */
	if (slow > 1000)
		snprintf(buf, len, "more than 10-fold");
	else
		snprintf(buf, len, "by about %.0f%%", slow);
}

static void detach(struct heap_guard *g, int slot, double slow, double per_s, int64_t now)
{
	struct heap_guard_target *t = &g->targets[slot];
	char how[32];
	bool last = true;
	int i;

	t->detached = true;
	t->detached_ns = now - g->start_ns;
	t->calls_per_s = per_s;
	t->slowdown = slow;
	g->ndetached++;
	if (g->detach)
		g->detach(g->detach_ctx, slot);
	for (i = 0; i < g->ntargets; i++)
		if (!g->targets[i].gone && !g->targets[i].detached)
			last = false;
	describe(slow, how, sizeof(how));
	/* On a terminal, over the session's progress line rather than after it. */
	if (isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
	pr_warn("heap: pid %d detached after %.1fs: it made %.0f allocator calls/s, which "
		"slowed it %s under the probes, over --max-overhead %g%% for %d s in a row; %s; "
		"use --mode growth (no uprobes), a larger --rate, or --force to keep probing\n",
		t->pid, t->detached_ns / 1e9, per_s, how, g->max_overhead, t->over,
		last ? "the profile covers the time attached"
		     : "its profile stops there, the other processes stay probed");
}

/* The last window of slot's target; false when it is gone. */
static bool window(struct heap_guard *g, int slot, int64_t t_now, struct heap_rate *w)
{
	struct heap_guard_target *t = &g->targets[slot];
	struct heap_rate now = { 0 };
	int j;

	if (read_target(g, slot, &now))
		return false;
	memset(w, 0, sizeof(*w));
	for (j = 0; j < HEAP_MAX_PROBES; j++)
		w->calls[j] = now.calls[j] - t->last.calls[j];
	w->bytes = now.bytes - t->last.bytes;
	w->cpu_ns = now.cpu_ns - t->last.cpu_ns;
	w->window_ns = t_now - g->last_ns;
	t->last = now;
	return true;
}

bool heap_guard__tick(void *ctx)
{
	struct heap_guard *g = ctx;
	struct heap_guard_target *t;
	int64_t t_now = mono_ns();
	struct heap_rate w;
	double slow, per_s;
	int i, left = 0;

	for (i = 0; i < g->ntargets; i++) {
		t = &g->targets[i];
		if (t->gone || t->detached)
			continue;
		if (!window(g, i, t_now, &w)) {
			t->gone = true; /* exited: the session notices */
			continue;
		}
		slow = heap_guard__judge(g, t, &w, &per_s);
		pr_debug("heap: guard: pid %d: %.0f allocator calls/s, implied slowdown %.1f%%\n",
			 t->pid, per_s, slow);
		if (t->over >= HEAP_GUARD_WINDOWS)
			detach(g, i, slow, per_s, t_now);
		else
			left++;
	}
	g->last_ns = t_now;
	return g->ndetached && !left;
}

void heap_guard__note(const struct heap_guard *g, struct profile *p)
{
	const struct heap_guard_target *t;
	char line[256], how[32];
	int i;

	for (i = 0; i < g->ntargets; i++) {
		t = &g->targets[i];
		if (!t->detached)
			continue;
		describe(t->slowdown, how, sizeof(how));
		snprintf(line, sizeof(line),
			 "heap: pid %d: probes detached after %.1fs by the overhead guard (%.0f "
			 "allocator calls/s slowed it %s, over --max-overhead %g%%): its values "
			 "stop there",
			 t->pid, t->detached_ns / 1e9, t->calls_per_s, how, g->max_overhead);
		profile__add_comment(p, line);
	}
}
