// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof offcpu: where threads wait off the CPU, as Go's block profile.
 * offcpu.bpf.c sums, per
 * stack key and state, how often and how long target threads were off the
 * CPU, every interval (exact) or a sample of the short ones (the default).
 * Threads still off-CPU when the capture ends are counted up to the end:
 * from the starts map (exact), or by offcpu_end.bpf.c's task iterator,
 * which takes their stacks then (sampled).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "profile_type/collectors.h"
#include "proc/stat.h"
#include "profile_type/profile_type.h"
#include "util/exitcode.h"
#include "util/errors.h"
#include "util/log.h"
#include "offcpu.skel.h"
#include "offcpu_end.skel.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "symbolize/symbolize.h"
#include "capture/target.h"
#include "util/util.h"

#define BLOCKS_MAX_ENTRIES 65536
/* Per-thread entries: a process's threads, or the system's. */
#define THREADS_PIDS 16384
#define THREADS_SYSTEM 65536
/* Sampled mode's thread slots, a power of two: 2.5 MiB at most. */
#define SLOTS_MAX 65536

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

/* What the running kernel offers, from its BTF. */
struct kernel_offcpu {
	bool prev_state_arg; /* sched_switch passes prev_state (5.18+) */
	bool task_work;	     /* bpf_task_work_schedule_resume (6.18+), usable: sampling */
};

/* Since 5.18 sched_switch passes prev_state, the state the scheduler acted on. */
static bool has_prev_state_arg(const struct btf *btf)
{
	const struct btf_type *t;
	int id;

	id = btf__find_by_name_kind(btf, "btf_trace_sched_switch", BTF_KIND_TYPEDEF);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	if (t)
		t = btf__type_by_id(btf, t->type); /* pointer */
	if (t && btf_is_ptr(t))
		t = btf__type_by_id(btf, t->type);
	/* (void *data, bool preempt, prev, next, unsigned int prev_state) */
	return t && btf_is_func_proto(t) && btf_vlen(t) >= 5;
}

static void probe_kernel(struct kernel_offcpu *k)
{
	struct btf *btf = btf__load_vmlinux_btf();
	struct utsname u;

	*k = (struct kernel_offcpu){ 0 };
	if (!btf)
		return;
	k->prev_state_arg = has_prev_state_arg(btf);
	/*
	 * The task work is queued through an irq_work, which must run before
	 * the thread returns to user space: with interrupts back on after the
	 * switch it does, but PREEMPT_RT defers irq_works to a thread.
	 */
	k->task_work = btf__find_by_name_kind(btf, "bpf_task_work_schedule_resume_impl",
					      BTF_KIND_FUNC) > 0 &&
		       !(uname(&u) == 0 && strstr(u.version, "PREEMPT_RT"));
	btf__free(btf);
}

/* The kernel's pid_max: tids stay below it. */
static long pid_max(void)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	long v = 0;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v > 0 ? v : 4194304;
}

struct load_ctx {
	const struct offcpu_opts *o;
	struct kernel_offcpu k;
};

/* Sampled mode's thread slots: one per tid when pid_max allows, else shared, with overflow. */
static void size_slots(struct offcpu_bpf *skel, bool sampled, __u32 threads)
{
	long max = pid_max();
	__u32 n = 1;

	while (n < SLOTS_MAX && n < max)
		n <<= 1;
	skel->rodata->slot_mask = n - 1;
	skel->rodata->slots_cover_pids = max <= n;
	bpf_map__set_max_entries(skel->maps.slots, sampled ? n : 1);
	bpf_map__set_max_entries(skel->maps.slot_overflow, sampled && max > n ? threads : 1);
	bpf_map__set_max_entries(skel->maps.pending, sampled ? threads : 1);
}

static void *open_and_load(struct session *s, const void *opts, bool btf, int *err)
{
	const struct load_ctx *c = opts;
	const struct offcpu_opts *o = c->o;
	struct offcpu_bpf *skel = offcpu_bpf__open();
	bool system = s->target->mode != TARGET_PIDS;
	/* Sampling needs trusted task pointers (tp_btf) and task works. */
	bool sampled = o->block_rate_ns > 0 && btf && c->k.task_work;
	__u32 threads = system ? THREADS_SYSTEM : THREADS_PIDS;

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	CAPTURE_SET_STACK_RODATA(skel, s, &o->st);
	skel->rodata->capture_user = o->user;
	skel->rodata->capture_kernel = o->kernel;
	skel->rodata->min_block_ns = o->min_block_ns;
	skel->rodata->state_mask = o->states;
	skel->rodata->prev_state_arg = c->k.prev_state_arg;
	skel->rodata->block_rate_ns = sampled ? o->block_rate_ns : 0;
	/* Target threads (an entry each while they live), and their stacks. */
	bpf_map__set_max_entries(skel->maps.starts, sampled ? 1 : threads);
	size_slots(skel, sampled, threads);
	bpf_map__set_max_entries(skel->maps.stacks, system ? 32768 : 16384);
	bpf_map__set_max_entries(skel->maps.blocks, BLOCKS_MAX_ENTRIES);
	capture_select_tp(skel->obj, btf);
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

	/* Sampled intervals weigh fractions of an interval: round the sum. */
	values[0] = (v->count + (1ULL << (OFFCPU_COUNT_SHIFT - 1))) >> OFFCPU_COUNT_SHIFT;
	values[1] = v->total_ns;
	return state_label(k->state, extra);
}

struct fill_ctx {
	struct offcpu_bpf *skel;
	uint64_t in_progress; /* sampled: intervals the closing pass found open */
	int64_t min_block_ns;
	int64_t end_ns;	       /* CLOCK_MONOTONIC, the end of the capture's window */
	int64_t block_rate_ns; /* as loaded: 0 when exact */
};

/* The profile's comment (and a debug line) on n intervals counted up to the end. */
static int note_in_progress(struct sample_sink *k, uint64_t n)
{
	char line[160];

	snprintf(line, sizeof(line),
		 "%" PRIu64 " off-CPU intervals still in progress at the end, counted up to "
		 "the end of the capture",
		 n);
	pr_debug("%s\n", line);
	return profile__add_comment(k->p, line);
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
	int err;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		tid = next;
		prev = &tid;
		if (bpf_map_lookup_elem(fd, &tid, &start) || !start.ts_ns)
			continue; /* running */
		runtime = proc_thread_cpu_ns(start.key.key.pid, tid);
		if (runtime < 0 || runtime > (int64_t)start.runtime_ns) {
			k->counters[CNT_OFFCPU_UNPAIRED]++;
			continue;
		}
		values[0] = 1;
		values[1] = c->end_ns - (int64_t)start.ts_ns;
		if (values[1] <= 0 || values[1] < c->min_block_ns)
			continue;
		state_label(start.key.state, &label);
		err = capture_add_sample(k, &start.key.key, values, &label, 1);
		if (err)
			return err;
		n++;
	}
	return n ? note_in_progress(k, n) : 0;
}

/*
 * The scheduler's own functions (the __sched section): bpf_get_task_stack
 * leaves them out of a sleeping thread's stack, so sampled stacks start at
 * the function that waited; exact mode's stacks, taken in the tracepoint,
 * are trimmed to match.  Zeroes when kallsyms hides them.
 */
static void sched_text(struct symbolizer *sym, uint64_t *lo, uint64_t *hi)
{
	if (symbolizer__kernel_addr(sym, "__sched_text_start", lo) ||
	    symbolizer__kernel_addr(sym, "__sched_text_end", hi))
		*lo = *hi = 0;
}

/* Sampled mode: say how, and how many intervals the in_progress pass found open. */
static int note_sampling(struct sample_sink *k, const struct fill_ctx *c)
{
	uint64_t n = c->in_progress;
	char line[240];
	int err;

	snprintf(line, sizeof(line),
		 "sampled as Go's block profile, rate %" PRId64 " ns: a shorter interval is kept "
		 "with probability length/rate and counts as rate/length intervals, rate ns in all",
		 c->block_rate_ns);
	err = profile__add_comment(k->p, line);
	if (err)
		return err;
	snprintf(line, sizeof(line),
		 "%" PRIu64 " of %" PRIu64
		 " intervals kept (the others were shorter than the rate, "
		 "and left out by the draw)",
		 k->counters[CNT_OFFCPU_KEPT], k->counters[CNT_EVENTS]);
	pr_debug("%s\n", line);
	err = profile__add_comment(k->p, line);
	if (err || !n)
		return err;
	return note_in_progress(k, n);
}

static int fill(struct sample_sink *k, void *arg)
{
	struct fill_ctx *c = arg;
	int err;

	k->trim_tracing = true;
	sched_text(k->s->sym, &k->trim_lo, &k->trim_hi);
	err = capture_add_map(k, bpf_map__fd(c->skel->maps.blocks), block_entry, NULL);
	if (!err)
		err = c->block_rate_ns ? note_sampling(k, c) : add_in_progress(k, c);
	return err;
}

/* Gives end every map of main it has too (not their .rodata/.bss), before end's load. */
static int share_maps(struct bpf_object *end, struct bpf_object *main)
{
	struct bpf_map *m, *from;
	int err;

	bpf_object__for_each_map(m, end)
	{
		if (bpf_map__is_internal(m))
			continue;
		from = bpf_object__find_map_by_name(main, bpf_map__name(m));
		if (!from)
			return -ENOENT;
		err = bpf_map__reuse_fd(m, bpf_map__fd(from));
		if (err)
			return err;
	}
	return 0;
}

/* Runs a task iterator program over every task once. */
static int run_iter(struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach_iter(prog, NULL);
	char buf[64];
	int fd, err = 0;
	ssize_t n;

	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		err = -errno;
	close(fd);
cleanup:
	bpf_link__destroy(link);
	return err;
}

/*
 * Sampled mode, after the capture: late task works stop recording, then
 * offcpu_end's pass over every task settles what is still open, and the
 * processes it met are recorded for symbolization.
 */
static int settle_in_progress(struct session *s, struct fill_ctx *c)
{
	const struct offcpu_bpf__rodata *ro = c->skel->rodata;
	struct offcpu_end_bpf *end;
	int err;

	c->skel->bss->ended = true;
	end = offcpu_end_bpf__open();
	if (!end)
		return -errno;
	end->rodata->target_mode = ro->target_mode;
	end->rodata->per_thread = ro->per_thread;
	end->rodata->unwind_cfi_frames = ro->unwind_cfi_frames;
	end->rodata->capture_user = ro->capture_user;
	end->rodata->capture_kernel = ro->capture_kernel;
	end->rodata->min_block_ns = ro->min_block_ns;
	end->rodata->block_rate_ns = ro->block_rate_ns;
	end->rodata->slot_mask = ro->slot_mask;
	end->rodata->slots_cover_pids = ro->slots_cover_pids;
	err = share_maps(end->obj, c->skel->obj);
	if (!err)
		err = offcpu_end_bpf__load(end);
	if (!err) {
		end->bss->end_ns = c->end_ns;
		err = run_iter(end->progs.in_progress);
		c->in_progress = end->bss->in_progress_count;
	}
	offcpu_end_bpf__destroy(end);
	if (s->rb)
		ring_buffer__consume(s->rb);
	return err;
}

int collect_offcpu(struct session *s, const struct offcpu_opts *o, struct profile **out)
{
	/* Go's block profile names: capture_contention_shape. */
	struct capture_links links = { 0 };
	struct fill_ctx c = { .min_block_ns = o->min_block_ns };
	struct load_ctx lc = { .o = o };
	int ret, err;

	probe_kernel(&lc.k);
	c.skel = capture_load(open_and_load, s, &lc, &ret);
	if (!c.skel)
		return ret;
	c.block_rate_ns = c.skel->rodata->block_rate_ns;
	if (o->block_rate_ns && !c.block_rate_ns)
		pr_warn("offcpu: sampling needs tp_btf and bpf_task_work (Linux 6.18+): recording "
			"every interval, as --exact\n");
	ret = capture_begin(s, c.skel->obj, &links);
	if (!ret)
		ret = capture_run(s, &links);
	if (ret)
		goto cleanup;
	/*
	 * Waits still going on count up to the end of the capture's window,
	 * the profile's duration, not to now: the end of the session (the last
	 * read of every process's maps) and the detach can take a tenth of a
	 * second under load.  A wait begun after the window counts nothing.
	 */
	c.end_ns = s->start_mono + s->elapsed_ns;
	if (c.block_rate_ns) {
		err = settle_in_progress(s, &c);
		if (err)
			pr_warn("cannot count the intervals still in progress: %s\n",
				strerror(-err));
	}
	ret = capture_make_profile(s, &capture_contention_shape, bpf_map__fd(c.skel->maps.stacks),
				   fill, &c, out);
cleanup:
	capture_detach(&links);
	offcpu_bpf__destroy(c.skel);
	return ret;
}

/*
 * The agent: sampled mode only (exact mode pays ~5 us at every switch of
 * every thread of the host).  A wait is counted in the interval it ends
 * in; the agent has no end at which to count the ones still going on.
 */
static int agent_start(struct session *s, const void *opts, struct agent_capture *c)
{
	struct load_ctx lc = { .o = opts };
	struct offcpu_bpf *skel;
	int ret;

	probe_kernel(&lc.k);
	skel = capture_load(open_and_load, s, &lc, &ret);
	if (!skel)
		return ret;
	*c = (struct agent_capture){
		.skel = skel,
		.destroy = (void (*)(void *))offcpu_bpf__destroy,
		.obj = skel->obj,
		.gen = &skel->bss->agg_gen,
		.counts_fd = bpf_map__fd(skel->maps.blocks),
		.entry = block_entry,
		.shape = capture_contention_shape,
		.trim_tracing = true,
	};
	if (!skel->rodata->block_rate_ns) {
		pr_warn("agent: offcpu needs sampling (tp_btf and bpf_task_work, Linux 6.18+), "
			"which this kernel lacks\n");
		agent_capture__free(c);
		return -BPFPROF_ESYSTEM;
	}
	sched_text(s->sym, &c->trim_lo, &c->trim_hi);
	ret = capture_begin(s, skel->obj, &c->links);
	if (ret)
		agent_capture__free(c);
	return ret;
}

static const struct type_agent offcpu_agent = {
	.name = "offcpu",
	.go_name = "block",
	.metric = "block",
	.cumulative = true,
	.start = agent_start,
};

/* --- the command line --- */

enum {
	OPT_MIN_BLOCK = 0x200,
	OPT_STATE,
	OPT_BLOCK_RATE,
	OPT_EXACT,
	OPT_USER_ONLY,
};

/* Go's block profile rate bpfprof samples with unless told otherwise. */
#define DEFAULT_BLOCK_RATE_NS 1000000LL
/* The BPF side multiplies it by 2^32: keep it below. */
#define MAX_BLOCK_RATE_NS 1000000000LL

static const struct argp_option offcpu_options[] = {
	{ NULL, 0, NULL, 0, "Off-CPU profile:", 3 },
	{ "min-block", OPT_MIN_BLOCK, "DURATION", 0,
	  "Record only off-CPU intervals at least this long (e.g. 1ms, 50us; default 0)", 3 },
	{ "state", OPT_STATE, "STATE[,STATE]", 0,
	  "Record only these states: sleeping, disk, runnable, stopped (repeatable; "
	  "default all)",
	  3 },
	{ "block-rate", OPT_BLOCK_RATE, "DURATION", 0,
	  "Sample intervals shorter than DURATION as Go's block profile rate: kept with "
	  "probability length/DURATION, each counting DURATION/length intervals (default 1ms, "
	  "at most 1s; 0 = --exact)",
	  3 },
	{ "exact", OPT_EXACT, NULL, 0,
	  "No sampling: every interval, its stacks taken as the thread leaves the CPU "
	  "(about 5 us per switch of a target thread)",
	  3 },
	{ "user-only", OPT_USER_ONLY, NULL, 0, "Only user stacks: no kernel stack", 3 },
	{ 0 },
};

/* Adds the states of a "--state" argument to the mask. */
static int parse_states(const char *arg, uint32_t *mask)
{
	char *copy = strdup(arg), *name, *save = NULL;
	int state, err = 0;

	if (!copy)
		return opt_error("out of memory");
	for (name = strtok_r(copy, ",", &save); name && !err; name = strtok_r(NULL, ",", &save)) {
		state = offcpu_state_parse(name);
		if (state < 0)
			err = opt_error(
				"invalid --state '%s': expected sleeping, disk, runnable or "
				"stopped",
				name);
		else
			*mask |= 1u << state;
	}
	free(copy);
	if (!err && !*mask)
		err = opt_error(
			"invalid --state '%s': expected sleeping, disk, runnable or stopped", arg);
	return err;
}

static error_t parse_offcpu(int key, char *arg, struct argp_state *state)
{
	struct type_args *a = state->input;
	struct offcpu_opts *o = a->opts;

	switch (key) {
	case ARGP_KEY_INIT:
		o->block_rate_ns = DEFAULT_BLOCK_RATE_NS;
		o->user = true;
		o->kernel = true;
		break;
	case OPT_MIN_BLOCK:
		if (parse_duration_ns(arg, &o->min_block_ns))
			return opt_error("invalid --min-block '%s': expected a duration, e.g. 1ms, "
					 "50us or 0.5",
					 arg);
		break;
	case OPT_STATE:
		return parse_states(arg, &o->states);
	case OPT_BLOCK_RATE:
		if (parse_duration_ns(arg, &o->block_rate_ns) ||
		    o->block_rate_ns > MAX_BLOCK_RATE_NS)
			return opt_error(
				"invalid --block-rate '%s': expected a duration up to 1s, e.g. "
				"1ms or 100us (0: --exact)",
				arg);
		break;
	case OPT_EXACT:
		o->block_rate_ns = 0;
		break;
	case OPT_USER_ONLY:
		o->kernel = false;
		break;
	case ARGP_KEY_END:
		if (!o->states)
			o->states = (1u << OFFCPU_STATE__MAX) - 1;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp offcpu_argp = {
	.options = offcpu_options,
	.parser = parse_offcpu,
	.args_doc = "[-- CMD [ARGS...]]",
	.doc = "Where threads wait off the CPU, and for how long (Go's block profile).\n"
	       "Every time a target thread leaves the CPU and runs again, the time away is\n"
	       "added to its stack and state (label state: sleeping, disk, runnable =\n"
	       "preempted, stopped).  Intervals shorter than the block rate (1ms) are\n"
	       "sampled as Go does: kept with probability length/rate, weighted rate/length;\n"
	       "longer ones are all kept.  --exact keeps every one.\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof offcpu -p 1234 -d 30              where pid 1234 waits, 30 seconds\n"
	       "  bpfprof offcpu -p 1234 --min-block 1ms    ignore waits under 1 ms\n"
	       "  bpfprof offcpu -p 1234 --exact            every wait, no sampling (slower)\n"
	       "  bpfprof offcpu -a -d 10 --state disk      uninterruptible waits, system-wide\n"
	       "  go tool pprof -top -sample_index=delay offcpu.pb.gz\n"
	       "\n" EXIT_CODES_HELP,
};

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_offcpu(s, opts, out);
}

static const struct type_endpoint offcpu_endpoints[] = {
	{ "block",
	  { 0 },
	  { 0 },
	  "Time threads spent off the CPU during the window (sleeping, I/O, locks, run "
	  "queue), by stack and state." },
};

const struct profile_type offcpu_type = {
	.name = "offcpu",
	.summary = "time off the CPU per stack and state (Go's block profile)",
	.output = "offcpu.pb.gz",
	.view = {
		.noun = "off-CPU intervals",
		.idle = "left no CPU during the capture (threads asleep since before it are not "
			"seen)",
		.sample_types = capture_contention_types,
		.nsample_types = ARRAY_SIZE(capture_contention_types),
		/* delay, as `go tool pprof` shows by default. */
		.sample_index = 1,
		/* Every stack starts in the kernel's wait: rank by the blocking user function. */
		.skip = REPORT_SKIP_KERNEL,
	},
	/* It hung offcpu before session.c watched deferred stops; not retried since. */
	.stop_for_maps = false,
	.stacks = TYPE_STACKS_THREADS,
	.argp = &offcpu_argp,
	.opts_size = sizeof(struct offcpu_opts),
	.collect = collect,
	.endpoints = offcpu_endpoints,
	.nendpoints = ARRAY_SIZE(offcpu_endpoints),
	.agent = &offcpu_agent,
};
