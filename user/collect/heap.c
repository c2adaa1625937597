// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof heap: live and allocated memory by stack, as Go's heap profile.
 * The command line of both modes is here; --mode alloc's collector finds each target's allocator,
 * measures what probing it will cost, attaches heap.bpf.c's programs with
 * uprobe_multi links (session uprobes where the kernel has them), keeps
 * pricing -p targets while attached (heap/guard.c) and turns the kernel's
 * maps into Go's heap profile: alloc_objects, alloc_space (sampled
 * allocations since attaching, per stack), inuse_objects and inuse_space
 * (sampled blocks not freed yet), all scaled to unbiased estimates the way
 * Go scales its MemProfileRate samples.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>

#include "profile_type/collectors.h"
#include "profile/pprof.h"
#include "profile_type/profile_type.h"
#include "util/errors.h"
#include "util/exitcode.h"
#include "heap.skel.h"
#include "heap/alloc.h"
#include "heap/cost.h"
#include "heap/dlopen.h"
#include "proc/stat.h"
#include "heap/guard.h"
#include "heap/inject.h"
#include "heap/uprobe_multi.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "capture/target.h"
#include "util/util.h"

#define EXP_TABLE_SIZE 4096
#define EXP_SHIFT 16
/*
 * The counting window before attaching for real: up to 250 ms, but no
 * longer than it takes to see MEASURE_ENOUGH calls (at least 50 ms), so a
 * process that allocates heavily is slowed by the counting probes only
 * briefly.
 */
#define MEASURE_NS 250000000LL
#define MEASURE_MIN_NS 50000000LL
#define MEASURE_ENOUGH 20000
#define ALLOCS_MAX_ENTRIES 65536

struct heap_run {
	struct session *s;
	const struct heap_opts *o;
	struct heap_bpf *skel;
	enum uprobe_support support;
	struct heap_allocator *allocs; /* one per target pid */
	int nallocs;
	/* links_per_target() per target, in the targets' order; -1: closed. */
	int links[TARGET_MAX_PIDS * 3];
	int nlinks;
	struct heap_costs costs;
	bool costs_known;
	struct heap_guard guard;    /* -p targets, unless --force */
	struct heap_injection *inj; /* per target: pid 0 where not injected */
	int ninjected;
	int attaching; /* the target slot heap_inject's callback attaches for */
	bool guarded;  /* the overhead guard watches uprobed -p targets */
	/* dlopen in injected targets: the loader's r_brk probed (heap/dlopen.c). */
	int *dl_links;		  /* per target, -1: none */
	bool *dl_held;		  /* per target: BPF stops it there */
	int *dl_objects;	  /* per target: objects redirected at the loader's report */
	int *dl_after;		  /* ... just after it, once no thread was in the loader */
	int *poll_objects;	  /* ... by the once-a-second poll */
	pthread_mutex_t inj_lock; /* the injections: the watcher thread and the tick */
	struct ring_buffer *dl_rb;
	pthread_t dl_thread;
	bool dl_running;
	volatile bool dl_quit;
};

/* How long the thread that dlopened may run alone to its objects' first constructor. */
#define DL_RUN_NS 50000000LL

static const struct value_type_desc heap_types[] = {
	{ "alloc_objects", "count" },
	{ "alloc_space", "bytes" },
	{ "inuse_objects", "count" },
	{ "inuse_space", "bytes" },
};

static void *open_and_load(struct session *s, const void *opts, bool btf, int *err)
{
	const struct heap_run *run = opts;
	const struct heap_opts *o = run->o;
	struct heap_bpf *skel = heap_bpf__open();
	uint32_t max_live = o->max_live ? o->max_live : o->rate == 1 ? 1048576 : 262144;
	bool session = run->support == UPROBE_SESSION;

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	CAPTURE_SET_STACK_RODATA(skel, s, &o->st);
	skel->rodata->capture_kernel = false;
	skel->rodata->follow_children = false; /* uprobes are attached per process */
	skel->rodata->sample_rate = o->rate;
	skel->rodata->page_size = sysconf(_SC_PAGESIZE);
	bpf_map__set_max_entries(skel->maps.live, max_live);
	/* Four slots per live block at most: few false hits, 4 bytes a slot. */
	skel->rodata->live_filter_bits = 12;
	while ((1U << skel->rodata->live_filter_bits) < max_live * 4U &&
	       skel->rodata->live_filter_bits < 26)
		skel->rodata->live_filter_bits++;
	bpf_map__set_max_entries(skel->maps.live_filter, 1U << skel->rodata->live_filter_bits);
	bpf_map__set_max_entries(skel->maps.allocs, ALLOCS_MAX_ENTRIES);
	bpf_map__set_max_entries(skel->maps.calls,
				 HEAP_CALLS_KEY(s->target->npids > 0 ? s->target->npids : 1, 0));
	bpf_map__set_max_entries(skel->maps.stacks, o->rate == 1 ? 65536 : 16384);
	bpf_program__set_autoload(skel->progs.heap_alloc_session, session);
	bpf_program__set_autoload(skel->progs.heap_alloc_entry, !session);
	bpf_program__set_autoload(skel->progs.heap_alloc_return, !session);
	bpf_program__set_expected_attach_type(skel->progs.heap_alloc_session,
					      (enum bpf_attach_type)UPROBE_ATTACH_SESSION);
	bpf_program__set_expected_attach_type(skel->progs.heap_alloc_entry,
					      (enum bpf_attach_type)UPROBE_ATTACH_MULTI);
	bpf_program__set_expected_attach_type(skel->progs.heap_alloc_return,
					      (enum bpf_attach_type)UPROBE_ATTACH_MULTI);
	bpf_program__set_expected_attach_type(skel->progs.heap_free,
					      (enum bpf_attach_type)UPROBE_ATTACH_MULTI);
	bpf_program__set_expected_attach_type(skel->progs.heap_sampled,
					      (enum bpf_attach_type)UPROBE_ATTACH_MULTI);
	bpf_program__set_expected_attach_type(skel->progs.heap_dl_notify,
					      (enum bpf_attach_type)UPROBE_ATTACH_MULTI);
	capture_select_tp(skel->obj, btf);
	*err = heap_bpf__load(skel);
	if (*err) {
		heap_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* -ln(u) for u uniform in (0, 1), in fixed point: BPF draws exponential intervals from it. */
static int fill_exp_table(struct heap_run *run)
{
	int fd = bpf_map__fd(run->skel->maps.exp_table);
	__u32 i, v;

	for (i = 0; i < EXP_TABLE_SIZE; i++) {
		v = (__u32)(-log((i + 0.5) / EXP_TABLE_SIZE) * (1 << EXP_SHIFT));
		if (bpf_map_update_elem(fd, &i, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* A session uprobe link, or an entry and a return one; and one for the frees. */
static int links_per_target(const struct heap_run *run)
{
	return run->support == UPROBE_SESSION ? 2 : 3;
}

/*
 * Attaches the allocator's probes in process pid, target slot: allocating
 * and freeing functions, each counting its calls in the slot's counters.
 */
static int attach_allocator(struct heap_run *run, const struct heap_allocator *a, int pid, int slot)
{
	uint64_t offs[2][HEAP_MAX_PROBES], cookies[2][HEAP_MAX_PROBES];
	int n[2] = { 0, 0 }, i, side, fd;
	bool session = run->support == UPROBE_SESSION;

	for (i = 0; i < a->nfuncs; i++) {
		side = a->funcs[i].fn == HEAP_FN_FREE;
		offs[side][n[side]] = a->funcs[i].offset;
		cookies[side][n[side]] = ((uint64_t)HEAP_CALLS_KEY(slot, i) << 8) | a->funcs[i].fn;
		n[side]++;
	}
	if (!n[0] || !n[1])
		return -ENOENT;
	if (run->nlinks != slot * links_per_target(run) ||
	    run->nlinks + links_per_target(run) > (int)(sizeof(run->links) / sizeof(run->links[0])))
		return -E2BIG;
	fd = uprobe_multi_attach(bpf_program__fd(session ? run->skel->progs.heap_alloc_session
							 : run->skel->progs.heap_alloc_entry),
				 session ? UPROBE_ATTACH_SESSION : UPROBE_ATTACH_MULTI, a->path,
				 offs[0], cookies[0], n[0], pid, false);
	if (fd < 0)
		return fd;
	run->links[run->nlinks++] = fd;
	if (!session) {
		fd = uprobe_multi_attach(bpf_program__fd(run->skel->progs.heap_alloc_return),
					 UPROBE_ATTACH_MULTI, a->path, offs[0], cookies[0], n[0],
					 pid, true);
		if (fd < 0)
			return fd;
		run->links[run->nlinks++] = fd;
	}
	fd = uprobe_multi_attach(bpf_program__fd(run->skel->progs.heap_free), UPROBE_ATTACH_MULTI,
				 a->path, offs[1], cookies[1], n[1], pid, false);
	if (fd < 0)
		return fd;
	run->links[run->nlinks++] = fd;
	return 0;
}

/*
 * heap_inject's callback, the target stopped: the uprobe on the sampler's
 * probe, through bpfprof's own descriptor of the sampler's memfd.
 */
static int attach_sampler(void *ctx, int memfd, uint64_t probe_off)
{
	struct heap_run *run = ctx;
	int slot = run->attaching, i, fd;
	uint64_t cookie = 0;
	char path[64];

	if (run->nlinks != slot * links_per_target(run) ||
	    run->nlinks + links_per_target(run) > (int)(sizeof(run->links) / sizeof(run->links[0])))
		return -E2BIG;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	fd = uprobe_multi_attach(bpf_program__fd(run->skel->progs.heap_sampled),
				 UPROBE_ATTACH_MULTI, path, &probe_off, &cookie, 1,
				 run->s->target->pids[slot], false);
	if (fd < 0)
		return fd;
	run->links[run->nlinks++] = fd;
	for (i = 1; i < links_per_target(run); i++)
		run->links[run->nlinks++] = -1;
	return 0;
}

/*
 * The uprobe on the loader's r_brk in injected target slot, so that its
 * dlopens are redirected as they happen; without it (no r_debug found, or
 * BPFPROF_TEST_HEAP_POLL_ONLY set, which the tests use to show what the
 * poll alone misses) only the once-a-second poll finds them.
 */
static void attach_dl(struct heap_run *run, int slot)
{
	int pid = run->s->target->pids[slot], fd;
	char why[PATH_MAX + 128], path[64];
	struct heap_dl dl;
	uint64_t cookie;

	if (getenv("BPFPROF_TEST_HEAP_POLL_ONLY"))
		return;
	if (heap_dl_find(pid, &dl, why, sizeof(why))) {
		pr_debug("heap: %s: libraries it loads later are found by polling\n", why);
		return;
	}
	fd = heap_dl_open(pid, &dl);
	if (fd < 0) {
		pr_debug("heap: pid %d: cannot open its dynamic loader: %s\n", pid, strerror(-fd));
		return;
	}
	/* A terminal's foreground job is not stopped: its shell would take the terminal. */
	run->dl_held[slot] = !heap_dl_foreground(pid);
	cookie = dl.r_debug | run->dl_held[slot];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	run->dl_links[slot] =
		uprobe_multi_attach(bpf_program__fd(run->skel->progs.heap_dl_notify),
				    UPROBE_ATTACH_MULTI, path, &dl.brk_off, &cookie, 1, pid, false);
	close(fd);
	if (run->dl_links[slot] < 0)
		pr_debug("heap: pid %d: cannot probe its dynamic loader's r_brk: %s\n", pid,
			 strerror(-run->dl_links[slot]));
	else
		pr_debug("heap: pid %d: its dlopens followed at r_brk %#" PRIx64 "%s\n", pid,
			 dl.r_brk, run->dl_held[slot] ? "" : " (not held: a foreground job)");
}

/*
 * --sampler inject or auto: the sampler in target slot.  0 when injected; a
 * refusal's -errno after printing why (a warning under auto, which falls back).
 */
static int inject_target(struct heap_run *run, int slot)
{
	struct heap_injection *in = &run->inj[slot];
	int pid = run->s->target->pids[slot], err;
	char why[PATH_MAX + 128];

	run->attaching = slot;
	err = heap_inject(pid, &run->allocs[slot], run->o->rate, attach_sampler, run, in, why,
			  sizeof(why));
	if (err) {
		/* The uprobe attached before a later step failed: gone with the injection. */
		while (run->nlinks > slot * links_per_target(run))
			if (run->links[--run->nlinks] >= 0)
				close(run->links[run->nlinks]);
		in->pid = 0;
		if (run->o->sampler == HEAP_SAMPLER_INJECT)
			pr_warn("heap: cannot sample in-process: %s\n", why);
		else
			pr_warn("heap: %s: using uprobes (--sampler uprobes to choose them)\n",
				why);
		return err;
	}
	run->ninjected++;
	attach_dl(run, slot);
	pr_info("heap: pid %d allocates with %s (%s), samples in-process: %s sampler, %d GOT "
		"slots redirected in %d objects\n",
		pid, run->allocs[slot].kind, run->allocs[slot].file,
		in->reused ? "the earlier" : "an injected", in->nslots, in->nobjects);
	pr_debug("heap: pid %d: %d threads stopped for %.2f ms in two stops (the first: all "
		 "stopped at %.2f ms, sampler found at %.2f, mapped at %.2f; the probe attached, "
		 "the "
		 "second: slots redirected at %.2f ms)\n",
		 pid, in->nthreads, in->stopped_ns / 1e6, in->phase_ns[0] / 1e6,
		 in->phase_ns[1] / 1e6, in->phase_ns[2] / 1e6, in->phase_ns[3] / 1e6);
	return 0;
}

/* Objects target slot loaded since: redirected, counted in *objects; slots or -errno. */
static int refresh(struct heap_run *run, int slot, int *objects)
{
	struct heap_injection *in = &run->inj[slot];
	char why[PATH_MAX + 128];
	int n, before = in->late_objects;

	n = heap_inject_refresh(in, why, sizeof(why));
	if (n < 0 && n != -ESRCH)
		pr_warn("heap: %s\n", why);
	*objects += in->late_objects - before;
	return n;
}

/* The watcher thread's: BPF saw a process's loader report new objects (r_brk). */
static int on_dl_event(void *ctx, void *data, size_t len)
{
	struct heap_run *run = ctx;
	uint64_t id = ((const uint64_t *)data)[0], t0 = ((const uint64_t *)data)[1];
	int pid = (int)(id >> 32), i, n, before;
	char why[PATH_MAX + 128];

	for (i = 0; i < run->nallocs; i++)
		if (run->inj[i].pid == pid)
			break;
	if (i == run->nallocs) {
		kill(pid, SIGCONT); /* not ours any more (uninjected): never left stopped */
		return 0;
	}
	pthread_mutex_lock(&run->inj_lock);
	before = run->inj[i].late_objects;
	n = heap_inject_loaded(&run->inj[i], (int)(uint32_t)id, run->dl_held[i], DL_RUN_NS, why,
			       sizeof(why));
	run->dl_objects[i] += run->inj[i].late_objects - before;
	if (n < 0 && n != -ESRCH) {
		if (n != -EAGAIN)
			pr_warn("heap: %s\n", why);
		/* Not held there, or no constructor reached: as soon as it is out of the loader. */
		n = refresh(run, i, &run->dl_after[i]);
	} else if (n > 0) {
		pr_debug("heap: pid %d: %d GOT slots of objects it dlopened redirected at the "
			 "loader's report, the process held %.2f ms\n",
			 pid, n, (mono_ns() - (int64_t)t0) / 1e6);
	}
	pthread_mutex_unlock(&run->inj_lock);
	return 0;
}

static void *dl_watch(void *arg)
{
	struct heap_run *run = arg;

	while (!run->dl_quit)
		ring_buffer__poll(run->dl_rb, 100);
	return NULL;
}

/* The watcher thread, when some target's r_brk is probed. */
static int start_dl_watch(struct heap_run *run)
{
	int i, err;

	for (i = 0; i < run->nallocs && run->dl_links[i] < 0; i++)
		;
	if (i == run->nallocs)
		return 0;
	run->dl_rb =
		ring_buffer__new(bpf_map__fd(run->skel->maps.dl_events), on_dl_event, run, NULL);
	if (!run->dl_rb)
		return -errno;
	err = pthread_create(&run->dl_thread, NULL, dl_watch, run);
	if (err)
		return -err;
	run->dl_running = true;
	return 0;
}

/* The r_brk probes gone, the watcher stopped: what each target's dlopens got. */
static void stop_dl_watch(struct heap_run *run)
{
	int i;

	for (i = 0; run->dl_links && i < run->nallocs; i++) {
		if (run->dl_links[i] >= 0)
			close(run->dl_links[i]);
		run->dl_links[i] = -1;
	}
	if (run->dl_running) {
		run->dl_quit = true;
		pthread_join(run->dl_thread, NULL);
		run->dl_running = false;
		/* A report BPF sent before its probe went: the process it stopped goes on. */
		ring_buffer__consume(run->dl_rb);
	}
	ring_buffer__free(run->dl_rb);
	run->dl_rb = NULL;
	for (i = 0; run->inj && i < run->nallocs; i++)
		if (run->inj[i].pid &&
		    (run->dl_objects[i] || run->dl_after[i] || run->poll_objects[i]))
			pr_info("heap: pid %d: objects loaded since the injection redirected: %d "
				"at "
				"the loader's report, before their constructors; %d just after it; "
				"%d "
				"by the poll\n",
				run->inj[i].pid, run->dl_objects[i], run->dl_after[i],
				run->poll_objects[i]);
}

/*
 * The session's once-a-second hook: libraries a sampled process loaded
 * since (dlopen) get their slots redirected; then the guard, if any.
 */
static bool heap_tick(void *ctx)
{
	struct heap_run *run = ctx;
	int i, n;

	for (i = 0; i < run->nallocs; i++) {
		if (!run->inj[i].pid)
			continue;
		pthread_mutex_lock(&run->inj_lock);
		/* Stopped: by BPF at r_brk, perhaps, for the watcher thread. */
		n = proc_is_stopped(run->inj[i].pid) ? 0 : refresh(run, i, &run->poll_objects[i]);
		pthread_mutex_unlock(&run->inj_lock);
		if (n > 0)
			pr_debug("heap: pid %d: %d GOT slots of objects loaded since redirected "
				 "(the "
				 "poll)\n",
				 run->inj[i].pid, n);
	}
	return run->guarded ? heap_guard__tick(&run->guard) : false;
}

/* Every redirected slot back to what it held; the samplers stay, unreachable. */
static void uninject_all(struct heap_run *run)
{
	char why[PATH_MAX + 128];
	int i, n;

	stop_dl_watch(run);
	for (i = 0; run->inj && i < run->nallocs; i++) {
		if (!run->inj[i].pid)
			continue;
		n = heap_uninject(&run->inj[i], why, sizeof(why));
		if (n < 0 && n != -ESRCH)
			pr_warn("heap: %s\n", why);
		else if (n >= 0)
			pr_debug("heap: pid %d: %d GOT slots restored\n", run->inj[i].pid, n);
		run->inj[i].pid = 0;
	}
}

static void detach_all(struct heap_run *run)
{
	while (run->nlinks > 0)
		if (run->links[--run->nlinks] >= 0)
			close(run->links[run->nlinks]);
}

/* The overhead guard's verdict on target slot: its probes go, what they recorded stays. */
static void detach_target(void *ctx, int slot)
{
	struct heap_run *run = ctx;
	int i = slot * links_per_target(run), end = i + links_per_target(run);

	for (; i < end && i < run->nlinks; i++) {
		if (run->links[i] >= 0)
			close(run->links[i]);
		run->links[i] = -1;
	}
}

/* Sums the per-CPU call counts of target slot's probes; zero = true clears them. */
static void read_calls(struct heap_run *run, int slot, struct heap_rate *r, bool zero)
{
	heap_calls_read(bpf_map__fd(run->skel->maps.calls), slot, run->allocs[slot].nfuncs, r,
			zero);
}

static uint64_t calls_so_far(struct heap_run *run, int slot)
{
	struct heap_rate r;
	uint64_t n = 0;
	int i;

	read_calls(run, slot, &r, false);
	for (i = 0; i < HEAP_MAX_PROBES; i++)
		n += r.calls[i];
	return n;
}

static void describe_allocator(const struct heap_allocator *a, int pid)
{
	const struct heap_func *f;
	int i, moved = 0, stepped = 0;

	for (i = 0; i < a->nfuncs; i++) {
		f = &a->funcs[i];
		moved += f->offset != f->entry;
		stepped += !f->emulated;
		pr_debug("heap: pid %d: %s at +%" PRIu64 " (%s)\n", pid, f->name,
			 f->offset - f->entry, f->insn[0] ? f->insn : "?");
	}
	pr_info("heap: pid %d allocates with %s (%s): %d functions probed, %d moved past their "
		"first instruction to a cheap trap, %d single-stepped\n",
		pid, a->kind, a->file, a->nfuncs, moved, stepped);
}

/*
 * Counts pid's allocator calls for a moment (no sampling) and refuses when
 * the expected slowdown is above --max-overhead.  Returns 0 or an exit code.
 */
static int check_overhead(struct heap_run *run, int slot, int pid)
{
	const struct heap_allocator *a = &run->allocs[slot];
	const struct heap_opts *o = run->o;
	struct heap_rate r = { 0 };
	int64_t cpu0, t0;
	double slow, per_s;
	char rate[32];

	if (!run->costs_known)
		return 0;
	read_calls(run, slot, &r, true);
	cpu0 = proc_cpu_ns(pid);
	t0 = mono_ns();
	while (!session_exiting && mono_ns() - t0 < MEASURE_NS) {
		usleep(10000);
		if (mono_ns() - t0 >= MEASURE_MIN_NS && calls_so_far(run, slot) >= MEASURE_ENOUGH)
			break;
	}
	read_calls(run, slot, &r, true);
	r.window_ns = mono_ns() - t0;
	r.cpu_ns = proc_cpu_ns(pid) - cpu0;
	if (cpu0 < 0 || r.cpu_ns < 0)
		return 0; /* gone: the session notices */
	slow = heap_expected_slowdown(a, &run->costs, &r, o->rate, run->support == UPROBE_SESSION,
				      &per_s);
	if (o->rate == 1)
		snprintf(rate, sizeof(rate), "--rate 1");
	else
		snprintf(rate, sizeof(rate), "--rate %" PRIu64, o->rate);
	pr_debug("heap: a probe hit costs %.2f us here, %.2f us single-stepped\n",
		 run->costs.emulated_ns / 1000, run->costs.stepped_ns / 1000);
	if (slow <= o->max_overhead || o->force) {
		pr_warn("heap: pid %d (%s) makes %.0f allocator calls/s: expected slowdown %.1f%% "
			"at %s\n",
			pid, a->kind, per_s, slow, rate);
		return 0;
	}
	/* When probe hits were most of its CPU time, the rest is too small to measure. */
	if (slow > 1000)
		snprintf(rate, sizeof(rate), "more than 10-fold");
	else
		snprintf(rate, sizeof(rate), "by about %.0f%%", slow);
	pr_warn("heap: refusing to attach: pid %d makes at least %.0f allocator calls/s, which "
		"probes would "
		"slow %s (over --max-overhead %g%%); use --mode growth (no uprobes), a larger "
		"--rate, or --force\n",
		pid, per_s, rate, o->max_overhead);
	return -ECANCELED;
}

static int prepare_targets(struct heap_run *run)
{
	struct target *t = run->s->target;
	char why[PATH_MAX + 128], exe[PATH_MAX];
	int i, err, ret;

	run->allocs = calloc(t->npids, sizeof(*run->allocs));
	run->inj = calloc(t->npids, sizeof(*run->inj));
	run->dl_links = calloc(t->npids, sizeof(*run->dl_links));
	run->dl_held = calloc(t->npids, sizeof(*run->dl_held));
	run->dl_objects = calloc(t->npids, sizeof(*run->dl_objects));
	run->dl_after = calloc(t->npids, sizeof(*run->dl_after));
	run->poll_objects = calloc(t->npids, sizeof(*run->poll_objects));
	if (!run->allocs || !run->inj || !run->dl_links || !run->dl_held || !run->dl_objects ||
	    !run->dl_after || !run->poll_objects)
		return capture_explain("find the allocator", -ENOMEM);
	for (i = 0; i < t->npids; i++)
		run->dl_links[i] = -1;
	for (i = 0; i < t->npids; i++) {
		if (t->argv) {
			err = target__resolve_command(t->argv[0], exe, sizeof(exe));
			if (!err)
				err = heap_allocator_of_command(exe, run->o->at_entry,
								&run->allocs[i], why, sizeof(why));
			else
				snprintf(why, sizeof(why), "command not found: %s", t->argv[0]);
		} else {
			err = heap_allocator_of_pid(run->s->procs_tab, t->pids[i], run->o->at_entry,
						    &run->allocs[i], why, sizeof(why));
		}
		if (err) {
			pr_warn("heap: %s\n", why);
			return err == -ENOENT || err == -ESRCH ? -BPFPROF_ETARGET : err;
		}
		run->nallocs++;
		if (!t->argv && run->o->sampler != HEAP_SAMPLER_UPROBES) {
			err = inject_target(run, i);
			if (!err)
				continue;
			if (run->o->sampler == HEAP_SAMPLER_INJECT)
				return -BPFPROF_ETARGET;
		}
		describe_allocator(&run->allocs[i], t->pids[i]);
		if (!strcmp(run->allocs[i].kind, "glibc"))
			run->skel->bss->glibc_realloc = true;
		run->skel->bss->measuring = !t->argv;
		err = attach_allocator(run, &run->allocs[i], t->pids[i], i);
		if (err) {
			pr_warn("heap: cannot attach uprobes to %s in pid %d: %s\n",
				run->allocs[i].file, t->pids[i], strerror(-err));
			return err == -ESRCH ? -BPFPROF_ETARGET : err;
		}
		if (!t->argv) {
			ret = check_overhead(run, i, t->pids[i]);
			if (ret)
				return ret;
		}
	}
	if (t->argv && run->o->sampler == HEAP_SAMPLER_INJECT) {
		pr_warn("heap: --sampler inject needs a running process (-p PID): a launched "
			"command is probed with uprobes\n");
		return -BPFPROF_EUSAGE;
	}
	if (t->argv)
		pr_warn("heap: %s allocates with %s; its allocation rate cannot be measured before "
			"it runs: no overhead check\n",
			t->argv[0], run->allocs[0].kind);
	run->skel->bss->measuring = run->o->count_only;
	return 0;
}

/*
 * While attached, a -p target's allocation rate keeps being priced (a
 * process quiet at attach may not stay so): unless --force, or without a
 * measured probe cost.  A launched command is not checked, as at attach.
 */
static int start_guard(struct heap_run *run)
{
	struct session *s = run->s;
	int err;

	if (run->ninjected) {
		err = start_dl_watch(run);
		if (err)
			pr_warn("heap: cannot follow dlopen as it happens (%s): polling once a "
				"second\n",
				strerror(-err));
		s->on_tick = heap_tick;
		s->on_tick_ctx = run;
	}
	if (run->o->force || !run->costs_known || s->target->argv || run->ninjected == run->nallocs)
		return 0; /* the in-process sampler costs too little to watch */
	err = heap_guard__start(&run->guard, bpf_map__fd(run->skel->maps.calls), &run->costs,
				run->o->rate, run->support == UPROBE_SESSION, run->o->max_overhead,
				run->allocs, s->target->pids, run->nallocs);
	if (err)
		return capture_explain("watch the allocation rate", err);
	run->guard.detach = detach_target;
	run->guard.detach_ctx = run;
	run->guarded = true;
	s->on_tick = heap_tick;
	s->on_tick_ctx = run;
	return 0;
}

/* Go's unbiased estimate: a block of size bytes was sampled with probability 1 - e^(-size/rate). */
static double scale(uint64_t rate, double size)
{
	if (rate <= 1 || size <= 0)
		return 1;
	return 1 / (1 - exp(-size / rate));
}

static int alloc_entry(const void *key, const void *value, int64_t *values,
		       struct pf_label_desc *extra, void *arg)
{
	const struct heap_alloc_val *v = value;
	const struct heap_run *run = arg;
	double avg, sc;

	if (!v->count)
		return -1;
	avg = (double)v->bytes / v->count;
	sc = scale(run->o->rate, avg);
	values[0] = llround(v->count * sc);
	values[1] = llround(v->bytes * sc);
	extra[0] = (struct pf_label_desc){ .key = "bytes", .num = llround(avg) };
	return 1;
}

/* inuse: every sampled block still live (older than --min-age), one by one. */
static int add_live(struct sample_sink *k, struct heap_run *run)
{
	int fd = bpf_map__fd(run->skel->maps.live), err = 0;
	struct heap_live_key key, next;
	struct heap_live_val val;
	struct pf_label_desc label;
	int64_t values[4], now = mono_ns();
	bool first = true;
	double sc;

	while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		if (run->o->min_age_ns && now - (int64_t)val.time_ns < run->o->min_age_ns)
			continue;
		sc = scale(run->o->rate, val.size);
		memset(values, 0, sizeof(values));
		values[2] = llround(sc);
		values[3] = llround(val.size * sc);
		label = (struct pf_label_desc){ .key = "bytes", .num = val.size };
		err = capture_add_sample(k, &val.key, values, &label, 1);
		if (err)
			break;
	}
	return err;
}

static void add_comments(struct sample_sink *k, struct heap_run *run)
{
	struct heap_rate r;
	uint64_t calls = 0, frees = 0;
	char line[PATH_MAX + 160];
	int i, j;

	for (i = 0; i < run->nallocs; i++) {
		snprintf(line, sizeof(line), "heap: pid %d allocates with %s (%s)%s",
			 run->s->target->pids[i], run->allocs[i].kind, run->allocs[i].file,
			 run->inj[i].base ? ", sampled in-process (an injected sampler)" : "");
		profile__add_comment(k->p, line);
		if (run->inj[i].dropped) {
			snprintf(line, sizeof(line),
				 "heap: pid %d: %" PRIu64 " sampled blocks not recorded (the "
				 "sampler's table was full there)",
				 run->s->target->pids[i], run->inj[i].dropped);
			profile__add_comment(k->p, line);
		}
	}
	snprintf(line, sizeof(line),
		 "heap: %s; blocks allocated before bpfprof attached are not known, and their "
		 "frees are ignored",
		 run->o->rate == 1 ? "every allocation recorded (--rate 1)"
				   : "one allocation sampled per --rate bytes, values scaled");
	profile__add_comment(k->p, line);
	if (run->o->min_age_ns) {
		snprintf(line, sizeof(line), "heap: in-use blocks younger than %.1fs left out",
			 run->o->min_age_ns / 1e9);
		profile__add_comment(k->p, line);
	}
	for (i = 0; i < run->nallocs; i++) {
		read_calls(run, i, &r, false);
		for (j = 0; j < run->allocs[i].nfuncs && j < HEAP_MAX_PROBES; j++)
			if (run->allocs[i].funcs[j].fn == HEAP_FN_FREE)
				frees += r.calls[j];
			else
				calls += r.calls[j];
	}
	snprintf(line, sizeof(line),
		 "heap: %" PRIu64 " allocating calls and %" PRIu64 " frees seen in %.1fs (%.0f/s)",
		 calls, frees, run->s->elapsed_ns / 1e9,
		 run->s->elapsed_ns ? (calls + frees) * 1e9 / run->s->elapsed_ns : 0.0);
	if (run->ninjected < run->nallocs) /* the sampler's calls are not counted */
		profile__add_comment(k->p, line);
	if (k->counters[CNT_HEAP_UNKNOWN_FREES]) {
		snprintf(line, sizeof(line),
			 "heap: %" PRIu64 " frees of blocks allocated before attaching ignored",
			 k->counters[CNT_HEAP_UNKNOWN_FREES]);
		profile__add_comment(k->p, line);
	}
	heap_guard__note(&run->guard, k->p);
}

static int fill(struct sample_sink *k, void *arg)
{
	struct heap_run *run = arg;
	int err;

	err = profile__set_default_sample_type(k->p,
					       run->o->allocs ? "alloc_space" : "inuse_space");
	if (!err)
		err = capture_add_map(k, bpf_map__fd(run->skel->maps.allocs), alloc_entry, run);
	if (!err)
		err = add_live(k, run);
	if (!err)
		add_comments(k, run);
	return err;
}

static const struct profile_shape *shape_of(const struct heap_run *run, struct profile_shape *sh)
{
	*sh = (struct profile_shape){
		.types = heap_types,
		.ntypes = 4,
		.period_type = { "space", "bytes" },
		.period = (int64_t)run->o->rate,
	};
	return sh;
}

static int on_snapshot(void *ctx)
{
	struct heap_run *run = ctx;
	struct profile_shape sh;
	struct profile *p = NULL;
	int ret;

	ret = capture_make_snapshot(run->s, shape_of(run, &sh), bpf_map__fd(run->skel->maps.stacks),
				    fill, run, &p);
	if (!ret)
		ret = run->o->snapshot(run->o->snapshot_ctx, run->s, p);
	profile__free(p);
	return ret;
}

int collect_heap(struct session *s, const struct heap_opts *o, struct profile **out)
{
	struct heap_run run = { .s = s, .o = o, .inj_lock = PTHREAD_MUTEX_INITIALIZER };
	struct capture_links links = { 0 };
	struct profile_shape sh;
	int ret, err;

	run.support = uprobe_multi_support();
	if (o->no_session && run.support == UPROBE_SESSION)
		run.support = UPROBE_MULTI_ONLY;
	if (run.support == UPROBE_NO_MULTI) {
		pr_warn("heap: this kernel has no uprobe_multi links (Linux 6.6 and later): use "
			"--mode growth\n");
		return -BPFPROF_ESYSTEM;
	}
	if (run.support != UPROBE_SESSION)
		pr_info("heap: no session uprobes in this kernel (Linux 6.13 and later): every "
			"allocation also pays a return probe\n");
	run.skel = capture_load(open_and_load, s, &run, &ret);
	if (!run.skel)
		return ret;
	err = fill_exp_table(&run);
	if (err) {
		ret = capture_explain("fill the sampling table", err);
		goto cleanup;
	}
	err = heap_calibrate(
		bpf_program__fd(run.support == UPROBE_SESSION ? run.skel->progs.heap_alloc_session
							      : run.skel->progs.heap_alloc_entry),
		run.support == UPROBE_SESSION ? UPROBE_ATTACH_SESSION : UPROBE_ATTACH_MULTI,
		&run.costs);
	if (err)
		pr_warn("heap: cannot measure the cost of a probe hit (%s): no overhead check\n",
			strerror(-err));
	run.costs_known = !err;
	ret = capture_begin(s, run.skel->obj, &links);
	if (!ret)
		ret = prepare_targets(&run);
	if (!ret)
		ret = start_guard(&run);
	if (ret)
		goto cleanup;
	if (o->snapshot) {
		s->on_snapshot = on_snapshot;
		s->on_snapshot_ctx = &run;
	}
	ret = capture_run(s, &links);
	uninject_all(&run);
	detach_all(&run);
	s->on_snapshot = NULL;
	s->on_tick = NULL;
	if (ret)
		goto cleanup;
	ret = capture_make_profile(s, shape_of(&run, &sh), bpf_map__fd(run.skel->maps.stacks), fill,
				   &run, out);
cleanup:
	uninject_all(&run);
	detach_all(&run);
	capture_detach(&links);
	heap_bpf__destroy(run.skel);
	heap_guard__free(&run.guard);
	free(run.allocs);
	free(run.inj);
	free(run.dl_links);
	free(run.dl_held);
	free(run.dl_objects);
	free(run.dl_after);
	free(run.poll_objects);
	return ret;
}

/* --- the command line (both modes) --- */

enum {
	OPT_RATE = 0x200,
	OPT_INTERVAL,
	OPT_MIN_AGE,
	OPT_MODE,
	OPT_MAX_OVERHEAD,
	OPT_FORCE,
	OPT_AT_ENTRY,
	OPT_MAX_LIVE,
	OPT_FAULT_EVERY,
	OPT_SYSCALL_RATE,
	OPT_COUNT_ONLY,
	OPT_NO_SESSION,
	OPT_ALLOCS,
	OPT_SAMPLER,
};

#define HEAP_DEFAULT_RATE (512 * 1024)

/* The type's options: the collector's, then the command's snapshots. */
struct heap_args {
	struct heap_opts heap; /* first: where the driver puts the stack options */
	struct type_args *a;
	int64_t interval_ns;
	char base[PATH_MAX]; /* numbered snapshots: BASE.0001.pb.gz, ... */
	int nsnapshots;
	char final_path[PATH_MAX + 32];
};

static const struct argp_option heap_options[] = {
	{ NULL, 0, NULL, 0, "Heap profile:", 3 },
	{ "rate", OPT_RATE, "BYTES", 0,
	  "Sample one allocation per BYTES allocated on average, as Go's MemProfileRate "
	  "(default 512k; 1 records every allocation; suffixes k, m, g)",
	  3 },
	{ "interval", OPT_INTERVAL, "SECONDS", 0,
	  "Also write a snapshot every SECONDS: OUTPUT.0001.pb.gz, ... (SIGUSR1 writes one "
	  "at any time)",
	  3 },
	{ "min-age", OPT_MIN_AGE, "SECONDS", 0,
	  "In-use memory: only blocks allocated at least this long ago (leak hunting)", 3 },
	{ "mode", OPT_MODE, "MODE", 0,
	  "alloc (default: uprobes on the allocator, Go's heap profile) or growth (no "
	  "uprobes: brk/mmap and page faults by stack, for allocation-heavy programs)",
	  3 },
	{ "max-overhead", OPT_MAX_OVERHEAD, "PERCENT", 0,
	  "Refuse to attach when the expected slowdown is above this (default 10); detach "
	  "when it stays above it for 3 s while attached",
	  3 },
	{ "force", OPT_FORCE, NULL, 0, "Attach and keep probing whatever the expected slowdown",
	  3 },
	{ "max-live", OPT_MAX_LIVE, "N", 0,
	  "Track at most N sampled live blocks (default 262144; 1048576 with --rate 1)", 3 },
	{ "allocs", OPT_ALLOCS, NULL, 0,
	  "Go's allocs profile: the same data, alloc_space shown by default (in the top "
	  "table and in pprof)",
	  3 },
	{ "sampler", OPT_SAMPLER, "HOW", 0,
	  "-p targets: inject (an in-process sampler: only sampled allocations trap, or "
	  "refuse), uprobes (a trap per allocator call), auto (default: inject where it can, "
	  "else uprobes)",
	  3 },
	{ "fault-every", OPT_FAULT_EVERY, "N", 0,
	  "--mode growth: capture a stack for one page fault in N (default 1)", 3 },
	{ "syscall-rate", OPT_SYSCALL_RATE, "BYTES", 0,
	  "--mode growth: record a memory syscall with probability size/BYTES, weighted to "
	  "stay unbiased (default 0: every call)",
	  3 },
	{ "at-entry", OPT_AT_ENTRY, NULL, OPTION_HIDDEN,
	  "Probe function entries (no placement): for the benchmark", 3 },
	{ "count-only", OPT_COUNT_ONLY, NULL, OPTION_HIDDEN,
	  "Probes only count calls (no overhead check): the benchmark's floor", 3 },
	{ "no-session", OPT_NO_SESSION, NULL, OPTION_HIDDEN,
	  "A return probe on every allocating call, as on kernels before 6.13 (tests)", 3 },
	{ 0 },
};

static error_t parse_heap(int key, char *arg, struct argp_state *state)
{
	struct type_args *a = state->input;
	struct heap_args *env = a->opts;
	char *end;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		env->heap.rate = HEAP_DEFAULT_RATE;
		env->heap.max_overhead = 10;
		break;
	case OPT_RATE:
		if (parse_bytes(arg, 1ULL << 40, &env->heap.rate))
			return opt_error(
				"invalid --rate '%s': expected bytes between samples, 1..1g "
				"(e.g. 1, 4096, 512k)",
				arg);
		break;
	case OPT_INTERVAL:
		if (parse_duration_ns(arg, &env->interval_ns) || env->interval_ns < 100000000)
			return opt_error("invalid --interval '%s': expected seconds, at least 0.1",
					 arg);
		break;
	case OPT_MIN_AGE:
		if (parse_duration_ns(arg, &env->heap.min_age_ns) || env->heap.min_age_ns < 0)
			return opt_error("invalid --min-age '%s': expected seconds, e.g. 60", arg);
		break;
	case OPT_MODE:
		if (!strcmp(arg, "alloc"))
			env->heap.mode = HEAP_MODE_ALLOC;
		else if (!strcmp(arg, "growth"))
			env->heap.mode = HEAP_MODE_GROWTH;
		else
			return opt_error("invalid --mode '%s': expected alloc or growth", arg);
		break;
	case OPT_MAX_OVERHEAD:
		errno = 0;
		env->heap.max_overhead = strtod(arg, &end);
		if (errno || end == arg || *end || !(env->heap.max_overhead > 0))
			return opt_error(
				"invalid --max-overhead '%s': expected a percentage > 0, e.g. 10",
				arg);
		break;
	case OPT_FORCE:
		env->heap.force = true;
		break;
	case OPT_AT_ENTRY:
		env->heap.at_entry = true;
		break;
	case OPT_NO_SESSION:
		env->heap.no_session = true;
		break;
	case OPT_ALLOCS:
		env->heap.allocs = true;
		break;
	case OPT_SAMPLER:
		if (!strcmp(arg, "auto"))
			env->heap.sampler = HEAP_SAMPLER_AUTO;
		else if (!strcmp(arg, "inject"))
			env->heap.sampler = HEAP_SAMPLER_INJECT;
		else if (!strcmp(arg, "uprobes"))
			env->heap.sampler = HEAP_SAMPLER_UPROBES;
		else
			return opt_error("invalid --sampler '%s': expected auto, inject or uprobes",
					 arg);
		break;
	case OPT_COUNT_ONLY:
		env->heap.count_only = true;
		env->heap.force = true;
		break;
	case OPT_MAX_LIVE:
		if (parse_long(arg, 1024, 1L << 26, &v))
			return opt_error("invalid --max-live '%s': expected 1024..67108864", arg);
		env->heap.max_live = v;
		break;
	case OPT_FAULT_EVERY:
		if (parse_long(arg, 1, 1000000, &v))
			return opt_error("invalid --fault-every '%s': expected 1..1000000", arg);
		env->heap.fault_every = v;
		break;
	case OPT_SYSCALL_RATE:
		if (parse_bytes(arg, 1ULL << 30, &env->heap.syscall_rate))
			return opt_error("invalid --syscall-rate '%s': expected bytes, 1..1g "
					 "(e.g. 512k)",
					 arg);
		break;
	case ARGP_KEY_END:
		if (env->heap.mode == HEAP_MODE_GROWTH) {
			if (env->heap.rate != HEAP_DEFAULT_RATE || env->heap.min_age_ns ||
			    env->heap.max_live)
				return opt_error(
					"--rate, --min-age and --max-live need --mode alloc: "
					"growth mode does not see allocations");
		} else if (a->common.target.mode != TARGET_PIDS && a->common.ntarget_kinds) {
			return opt_error(
				"heap: the allocator's uprobes need processes: give -p PID or -- "
				"CMD (--mode growth works with -a and --cgroup)");
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp heap_argp = {
	.options = heap_options,
	.parser = parse_heap,
	.args_doc = "[-- CMD [ARGS...]]",
	.doc = "Live and allocated memory by stack (Go's heap profile) from the\n"
	       "allocator the process uses (glibc, jemalloc, tcmalloc, mimalloc), one\n"
	       "allocation sampled per --rate bytes.  Sample types alloc_objects,\n"
	       "alloc_space (since attaching), inuse_objects, inuse_space (at the\n"
	       "snapshot).  A -p process gets an in-process sampler (ptrace, its\n"
	       "allocator's GOT slots redirected, restored at the end): only sampled\n"
	       "allocations trap.  Where it cannot be injected, and for -- CMD,\n"
	       "uprobes on the allocator: the allocation rate is measured and the\n"
	       "expected slowdown printed; above --max-overhead bpfprof refuses, and\n"
	       "it detaches if a -p process's rate rises above it for 3 s.\n"
	       "Blocks allocated before attaching are not known.\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof heap -p 1234 -d 60               sampled, one snapshot at the end\n"
	       "  bpfprof heap -p 1234 --rate 1 -d 10      every allocation\n"
	       "  bpfprof heap -p 1234 --interval 10 -o h  h.0001.pb.gz, h.0002.pb.gz, ...\n"
	       "  bpfprof heap -p 1234 --min-age 300       live blocks older than 5 minutes\n"
	       "  bpfprof heap -p 1234 --mode growth       which stacks grow the heap, no uprobes\n"
	       "  bpfprof heap -p 1234 --sampler uprobes   uprobes instead of the sampler\n"
	       "  go tool pprof -sample_index=alloc_space -top heap.pb.gz\n"
	       "  go tool pprof -base h.0001.pb.gz h.0006.pb.gz\n"
	       "\n" EXIT_CODES_HELP,
};

/* "h" → "h", "heap.pb.gz" → "heap", "x.gz" → "x": the base of numbered snapshots. */
static void snapshot_base(const char *output, char *base, size_t len)
{
	static const char *const suffixes[] = { ".pb.gz", ".pb", ".gz" };
	size_t n = strlen(output), i, k;

	snprintf(base, len, "%s", output);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		k = strlen(suffixes[i]);
		if (n > k && !strcmp(output + n - k, suffixes[i])) {
			base[n - k] = '\0';
			return;
		}
	}
}

static int write_snapshot(void *ctx, struct session *s, struct profile *p)
{
	struct heap_args *env = ctx;
	char path[PATH_MAX + 32];
	int err;

	snprintf(path, sizeof(path), "%s.%04d.pb.gz", env->base, ++env->nsnapshots);
	err = pprof_write_file(p, path);
	if (err) {
		pr_warn("cannot write %s: %s\n", path, strerror(-err));
		return err;
	}
	if (!env->a->common.quiet)
		fprintf(stdout, "wrote %s (snapshot at %.1fs)\n", path, s->elapsed_ns / 1e9);
	fflush(stdout);
	return 0;
}

static int collect(struct session *s, const void *opts, struct profile **out)
{
	const struct heap_opts *o = opts;
	struct heap_args *env = o->snapshot_ctx;
	int ret;

	s->snapshot_ns = env->interval_ns;
	ret = o->mode == HEAP_MODE_GROWTH ? collect_heap_growth(s, o, out)
					  : collect_heap(s, o, out);
	if (!ret && env->interval_ns) {
		/* With --interval the last snapshot is numbered like the others. */
		snprintf(env->final_path, sizeof(env->final_path), "%s.%04d.pb.gz", env->base,
			 ++env->nsnapshots);
		env->a->common.output = env->final_path;
	}
	return ret;
}

static int setup(struct type_args *a)
{
	struct heap_args *env = a->opts;

	env->a = a;
	/* Blocks outlive their threads: no tid label. */
	env->heap.st.per_thread = false;
	/*
	 * Growth mode follows a launched command's children, as the other
	 * profile types do; uprobes are attached per process, so alloc mode
	 * profiles the command itself.
	 */
	env->heap.st.follow_children = env->heap.mode == HEAP_MODE_GROWTH && a->common.target.argv;
	if (!env->heap.fault_every)
		env->heap.fault_every = 1;
	snapshot_base(a->common.output, env->base, sizeof(env->base));
	env->heap.snapshot = write_snapshot;
	env->heap.snapshot_ctx = env;
	if (env->heap.allocs && env->heap.mode == HEAP_MODE_GROWTH) {
		pr_warn("--allocs is alloc mode's: growth mode has no allocations\n");
		return -BPFPROF_EUSAGE;
	}
	return 0;
}

/* Alloc mode's view, showing sample type index (Go's defaults: heap inuse_space, allocs alloc_space). */
#define HEAP_ALLOC_VIEW(index)                                                                                         \
	{                                                                                                              \
		.noun = "allocations (estimated)",                                                                     \
		.idle = "made no sampled allocation during the capture (blocks allocated before "                      \
			"bpfprof attached are not known)",                                                             \
		.sample_types = heap_types, .nsample_types = ARRAY_SIZE(heap_types),                                   \
		.sample_index =                                                                                        \
			(index), /* The leaf is the probed allocator function: rank by the function that allocated. */ \
			.skip = REPORT_SKIP_ALLOCATOR,                                                                 \
	}

/* --allocs: Go's allocs profile, alloc_space shown. */
static const struct type_view heap_allocs_view = HEAP_ALLOC_VIEW(1);

static const struct type_view heap_growth_view = {
	.noun = "anonymous page faults",
	.idle = "did not grow its anonymous memory during the capture",
	.sample_types = heap_growth_types,
	.nsample_types = ARRAY_SIZE(heap_growth_types),
	.sample_index = HEAP_GROWTH_SAMPLE_INDEX,
	.skip = REPORT_SKIP_NONE,
};

extern const struct profile_type heap_type;

static const struct type_view *view_of(const void *opts)
{
	const struct heap_opts *o = opts;

	if (o->mode == HEAP_MODE_GROWTH)
		return &heap_growth_view;
	return o->allocs ? &heap_allocs_view : &heap_type.view;
}

/* Uprobes are per process and priced per target: the agent runs growth mode. */
static const struct type_agent heap_agent = {
	.name = "growth",
	.go_name = "allocs",
	.metric = "memory",
	.cumulative = true,
	/*
	 * One sample per 512 KiB grown on average, Go's MemProfileRate: a
	 * fault stands for 128 pages, a syscall is drawn by its size.  Denser,
	 * every short-lived process of a host was sampled at its start.
	 */
	.args = { "--mode", "growth", "--fault-every", "128", "--syscall-rate", "512k" },
	.start = heap_growth_agent_start,
};

static const struct type_endpoint heap_endpoints[] = {
	{ "allocs",
	  { "--allocs" },
	  { "rate", "--rate" },
	  "Allocations during the window, by stack (heap's uprobes; alloc_space shown first). "
	  "rate=BYTES samples one allocation per BYTES (default 512k)." },
	{ "heap",
	  { 0 },
	  { "rate", "--rate" },
	  "Memory allocated during the window and still live at its end, by stack (uprobes "
	  "on the allocator). rate=BYTES as for allocs." },
};

const struct profile_type heap_type = {
	.name = "heap",
	.summary = "live and allocated memory by stack (Go's heap profile)",
	.output = "heap.pb.gz",
	.view = HEAP_ALLOC_VIEW(3), /* inuse_space */
	.view_of = view_of,
	/* Both modes: a launched command waits while its new mappings are read. */
	.stop_for_maps = true,
	.stacks = TYPE_STACKS_UNWIND,
	.argp = &heap_argp,
	.opts_size = sizeof(struct heap_args),
	.setup = setup,
	.collect = collect,
	.endpoints = heap_endpoints,
	.nendpoints = ARRAY_SIZE(heap_endpoints),
	.agent = &heap_agent,
};
