// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof mutex: contended locks, who waited or who held them, as Go's
 * mutex profile.  mutex.bpf.c sums, per
 * (stack key, futex address), the contended acquisitions and the time spent
 * in futex waits, keyed by the waiting thread's stacks or by those of the
 * thread whose wake ended the wait.
 *
 * The futex syscall is seen through the syscalls:sys_{enter,exit}_futex*
 * tracepoints when the kernel has them (only futex calls then run BPF), else
 * through raw_syscalls' sys_enter/sys_exit, filtered on the syscall number.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <ctype.h>

#include "profile_type/collectors.h"
#include "profile_type/profile_type.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "mutex.skel.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "capture/target.h"
#include "util/util.h"

#define CONTENTIONS_MAX_ENTRIES 16384

/*
 * The futex syscalls' tracepoints under events/syscalls/; only "futex" is
 * required (the others are newer), and with it the per-syscall events are
 * used instead of raw_syscalls.
 */
static const char *const futex_syscalls[] = { "futex", "futex_waitv", "futex_wait", "futex_wake",
					      "futex_requeue" };

static const struct syscall_set futex_set = {
	.what = "futex calls",
	.names = futex_syscalls,
	.n = ARRAY_SIZE(futex_syscalls),
	.required = 1,
	.shared_enter = true,
};

static void *open_and_load(struct session *s, const void *opts, bool btf, int *err)
{
	const struct mutex_opts *o = opts;
	struct mutex_bpf *skel = mutex_bpf__open();
	bool system = s->target->mode != TARGET_PIDS;

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	CAPTURE_SET_STACK_RODATA(skel, s, &o->st);
	/* A kernel stack at the syscall's entry says nothing: user stacks only. */
	skel->rodata->capture_kernel = false;
	skel->rodata->by_holder = o->by_holder;
	skel->rodata->lock_filter = o->lock;
	bpf_map__set_max_entries(skel->maps.waits, system ? 65536 : 16384);
	bpf_map__set_max_entries(skel->maps.contentions, CONTENTIONS_MAX_ENTRIES);
	bpf_map__set_max_entries(skel->maps.stacks, system ? 32768 : 16384);
	capture_select_tp(skel->obj, btf);
	capture_syscalls_select(skel->obj, &futex_set);
	if (!o->by_holder) {
		bpf_program__set_autoload(skel->progs.waking_btf, false);
		bpf_program__set_autoload(skel->progs.waking_raw, false);
	}
	*err = mutex_bpf__load(skel);
	if (*err) {
		mutex_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* After capture_begin, the syscall tracepoints. */
static int attach(struct session *s, struct mutex_bpf *skel, struct capture_links *links)
{
	int ret = capture_begin(s, skel->obj, links);

	if (ret)
		return ret;
	ret = capture_syscalls_attach(skel->obj, &futex_set, links);
	return ret ? capture_explain("attach to the futex syscall tracepoints", ret) : 0;
}

struct fill_ctx {
	struct mutex_bpf *skel;
	bool by_holder;
	int64_t delay_ns; /* summed over the samples */
	char lock[24];	  /* the label of the entry being added */
};

/* contentions: (stack key, futex address) → {contentions, delay}. */
static int contention_entry(const void *key, const void *value, int64_t *values,
			    struct pf_label_desc *extra, void *arg)
{
	const struct mutex_key *k = key;
	const struct mutex_val *v = value;
	struct fill_ctx *c = arg;

	values[0] = v->count;
	values[1] = v->delay_ns;
	c->delay_ns += v->delay_ns;
	snprintf(c->lock, sizeof(c->lock), "0x%llx", (unsigned long long)k->lock);
	extra[0] = (struct pf_label_desc){ .key = "lock", .str = c->lock };
	return 1;
}

static int note(struct profile *p, bool warn, const char *line)
{
	if (warn)
		pr_warn("%s\n", line);
	else
		pr_info("%s\n", line);
	return profile__add_comment(p, line);
}

/* What the counters say about waits that were merged or given to no holder. */
static int report_waits(struct sample_sink *k, const struct fill_ctx *c)
{
	const uint64_t *n = k->counters;
	char line[320];
	int err = 0;

	if (n[CNT_MUTEX_REWAITS]) {
		snprintf(line, sizeof(line),
			 "%" PRIu64 " futex waits went on with a contention already counted "
			 "(woken, then the lock was taken first by another thread): their time "
			 "is in its delay",
			 n[CNT_MUTEX_REWAITS]);
		err = note(k->p, false, line);
	}
	if (!err && n[CNT_MUTEX_WAITS_FULL]) {
		snprintf(line, sizeof(line),
			 "%" PRIu64 " futex waits lost: the per-thread wait map was full",
			 n[CNT_MUTEX_WAITS_FULL]);
		err = note(k->p, true, line);
	}
	if (err || !c->by_holder || !(n[CNT_MUTEX_NO_WAKER] + n[CNT_MUTEX_UNWOKEN]))
		return err;
	snprintf(line, sizeof(line),
		 "%" PRIu64 " futex waits (%.1f ms, %.1f%% of all waiting) were given to no "
		 "holder: %" PRIu64 " woken by a thread outside the targets or outside a futex "
		 "call (e.g. a thread's exit), %" PRIu64
		 " timed out, interrupted, or found the lock released",
		 n[CNT_MUTEX_NO_WAKER] + n[CNT_MUTEX_UNWOKEN], n[CNT_MUTEX_UNHELD_NS] / 1e6,
		 100.0 * n[CNT_MUTEX_UNHELD_NS] / (double)(n[CNT_MUTEX_UNHELD_NS] + c->delay_ns),
		 n[CNT_MUTEX_NO_WAKER], n[CNT_MUTEX_UNWOKEN]);
	return note(k->p, false, line);
}

static int fill(struct sample_sink *k, void *arg)
{
	struct fill_ctx *c = arg;
	int err;

	err = capture_add_map(k, bpf_map__fd(c->skel->maps.contentions), contention_entry, c);
	if (!err)
		err = report_waits(k, c);
	return err;
}

int collect_mutex(struct session *s, const struct mutex_opts *o, struct profile **out)
{
	/* Go's mutex profile names: capture_contention_shape. */
	struct capture_links links = { 0 };
	struct fill_ctx c = { .by_holder = o->by_holder };
	int ret;

	c.skel = capture_load(open_and_load, s, o, &ret);
	if (!c.skel)
		return ret;
	ret = attach(s, c.skel, &links);
	if (!ret)
		ret = capture_run(s, &links);
	if (ret)
		goto cleanup;
	ret = capture_make_profile(s, &capture_contention_shape, bpf_map__fd(c.skel->maps.stacks),
				   fill, &c, out);
cleanup:
	capture_detach(&links);
	mutex_bpf__destroy(c.skel);
	return ret;
}

/* The agent: Go's mutex profile, charged to the holder that released the lock. */
static int agent_start(struct session *s, const void *opts, struct agent_capture *c)
{
	const struct mutex_opts *o = opts;
	struct fill_ctx *fc = calloc(1, sizeof(*fc));
	struct mutex_bpf *skel;
	int ret;

	if (!fc)
		return -ENOMEM;
	fc->by_holder = o->by_holder;
	skel = capture_load(open_and_load, s, o, &ret);
	if (!skel) {
		free(fc);
		return ret;
	}
	fc->skel = skel;
	*c = (struct agent_capture){
		.skel = skel,
		.destroy = (void (*)(void *))mutex_bpf__destroy,
		.obj = skel->obj,
		.gen = &skel->bss->agg_gen,
		.counts_fd = bpf_map__fd(skel->maps.contentions),
		.entry = contention_entry,
		.entry_arg = fc,
		.shape = capture_contention_shape,
	};
	ret = attach(s, skel, &c->links);
	if (ret)
		agent_capture__free(c);
	return ret;
}

static const struct type_agent mutex_agent = {
	.name = "mutex",
	.go_name = "mutex",
	.metric = "mutex",
	.cumulative = true,
	.args = { "--by", "holder" },
	.start = agent_start,
};

/* --- the command line --- */

enum {
	OPT_BY = 0x200,
	OPT_LOCK,
};

static const struct argp_option mutex_options[] = {
	{ NULL, 0, NULL, 0, "Mutex profile:", 3 },
	{ "by", OPT_BY, "VIEW", 0,
	  "waiter (default): the stacks of the threads that waited; holder: the stacks of "
	  "the threads that released the lock they waited for (Go's mutex profile)",
	  3 },
	{ "lock", OPT_LOCK, "ADDR", 0,
	  "Only this lock: its address in hex, as in the lock label (e.g. 0x55d0c0a2b040)", 3 },
	{ 0 },
};

/* A lock address: hex digits, with or without 0x; never 0. */
static int parse_lock(const char *arg, uint64_t *out)
{
	const char *p = arg;
	char *end;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (!isxdigit((unsigned char)*p))
		return -EINVAL;
	errno = 0;
	*out = strtoull(p, &end, 16);
	if (errno || *end || !*out)
		return -EINVAL;
	return 0;
}

static error_t parse_mutex(int key, char *arg, struct argp_state *state)
{
	struct type_args *a = state->input;
	struct mutex_opts *o = a->opts;

	switch (key) {
	case OPT_BY:
		if (!strcmp(arg, "waiter"))
			o->by_holder = false;
		else if (!strcmp(arg, "holder"))
			o->by_holder = true;
		else
			return opt_error("invalid --by '%s': expected waiter or holder", arg);
		break;
	case OPT_LOCK:
		if (parse_lock(arg, &o->lock))
			return opt_error(
				"invalid --lock '%s': expected a lock address in hex, e.g. "
				"0x55d0c0a2b040",
				arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp mutex_argp = {
	.options = mutex_options,
	.parser = parse_mutex,
	.args_doc = "[-- CMD [ARGS...]]",
	.doc = "Contended locks: pthread mutexes, rwlocks, condition variables and any\n"
	       "other futex-based lock (Go's mutex profile).  Only the futex syscall is\n"
	       "traced, which a lock calls only when it must sleep or wake a sleeper:\n"
	       "uncontended locking costs nothing.  Each contended acquisition counts once\n"
	       "(contentions) with the time its thread slept in futex waits (delay), at\n"
	       "the waiting thread's stack, or with --by holder at the stack of the thread\n"
	       "whose unlock woke it.  Label lock: the futex address.\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof mutex -p 1234 -d 30               where pid 1234's threads waited\n"
	       "  bpfprof mutex -p 1234 -d 30 --by holder   who held the locks they waited for\n"
	       "  bpfprof mutex -p 1234 --lock 0x55d0c0a2b040   one lock only\n"
	       "  go tool pprof -top -sample_index=delay mutex.pb.gz\n"
	       "  go tool pprof -tagroot=lock -top mutex.pb.gz  per lock\n"
	       "\n" EXIT_CODES_HELP,
};

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_mutex(s, opts, out);
}

static const struct type_endpoint mutex_endpoints[] = {
	{ "mutex",
	  { "--by=holder" },
	  { "by", "--by" },
	  "Lock contention during the window, at the holders' stacks (by=waiter: at the "
	  "waiters')." },
};

const struct profile_type mutex_type = {
	.name = "mutex",
	.summary = "contended locks: who waited, or who held (Go's mutex profile)",
	.output = "mutex.pb.gz",
	.view = {
		.noun = "contentions",
		.idle = "had no contended lock (no futex wait) during the capture",
		.sample_types = capture_contention_types,
		.nsample_types = ARRAY_SIZE(capture_contention_types),
		/* delay, as `go tool pprof` shows by default. */
		.sample_index = 1,
		/* Every stack starts in the C library's futex call: rank by its caller. */
		.skip = REPORT_SKIP_KERNEL_LIBC,
	},
	.stop_for_maps = true,
	.stacks = TYPE_STACKS_THREADS,
	.argp = &mutex_argp,
	.opts_size = sizeof(struct mutex_opts),
	.collect = collect,
	.endpoints = mutex_endpoints,
	.nendpoints = ARRAY_SIZE(mutex_endpoints),
	.agent = &mutex_agent,
};
