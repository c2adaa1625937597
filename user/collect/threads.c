// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof threads: what every thread is doing right now, as Go's goroutine
 * profile.  The collector runs threads.bpf.c's task iterator once over
 * the targets, reads one record per thread from the iterator's file, and
 * makes one sample per thread.  Nothing stays attached: the links live only
 * while their iterator is read.  With DWARF unwinding the targets' unwind
 * tables are loaded first, since the iterator unwinds as it goes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "profile_type/collectors.h"
#include "profile_type/profile_type.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/pprof.h"
#include "profile/profile.h"
#include "report/threads_text.h"
#include "capture/session.h"
#include "capture/stacks.h"
#include "capture/target.h"
#include "capture/thread_record.h"
#include "proc/procs.h"
#include "threads.skel.h"
#include "unwind/unwinder.h"
#include "util/util.h"

/* The records read from the iterator(s), back to back. */
struct snapshot {
	char *buf;
	size_t len, cap;
};

static int snapshot_read(struct snapshot *snap, int fd)
{
	ssize_t n;
	char *grown;

	for (;;) {
		if (snap->cap - snap->len < 65536) {
			size_t cap = snap->cap ? snap->cap * 2 : 262144;

			grown = realloc(snap->buf, cap);
			if (!grown)
				return -ENOMEM;
			snap->buf = grown;
			snap->cap = cap;
		}
		n = read(fd, snap->buf + snap->len, snap->cap - snap->len);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		snap->len += n;
	}
}

/*
 * One pass of the iterator: over the threads of pid (kernel 6.1+), or over
 * every task when pid is 0.  The program filters targets either way.
 */
static int iterate(struct bpf_program *prog, int pid, struct snapshot *snap)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info linfo;
	struct bpf_link *link;
	int fd, err;

	memset(&linfo, 0, sizeof(linfo));
	if (pid) {
		linfo.task.pid = pid;
		opts.link_info = &linfo;
		opts.link_info_len = sizeof(linfo);
	}
	link = bpf_program__attach_iter(prog, pid ? &opts : NULL);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
	} else {
		err = snapshot_read(snap, fd);
		close(fd);
	}
	bpf_link__destroy(link);
	return err;
}

static int take_snapshot(struct session *s, struct threads_bpf *skel, struct snapshot *snap)
{
	struct target *t = s->target;
	int i, j, err = 0;

	if (t->mode != TARGET_PIDS)
		return iterate(skel->progs.snapshot_thread, 0, snap);
	for (i = 0; i < t->npids; i++) {
		for (j = 0; j < i && t->pids[j] != t->pids[i]; j++)
			;
		if (j < i)
			continue; /* -p 42,42: once is enough */
		err = iterate(skel->progs.snapshot_thread, t->pids[i], snap);
		if (err == -EINVAL && i == 0) {
			/* No per-process task iterator (before 6.1): one pass over all. */
			pr_debug("per-process task iterator refused, iterating every task\n");
			return iterate(skel->progs.snapshot_thread, 0, snap);
		}
		if (err)
			return err;
	}
	return 0;
}

static struct threads_bpf *load(struct session *s, const struct threads_opts *o, int *ret)
{
	struct target *t = s->target;
	struct threads_bpf *skel;
	struct stat st;
	int err;

	skel = threads_bpf__open();
	if (!skel) {
		*ret = capture_explain("open the BPF program", -errno);
		return NULL;
	}
	skel->rodata->target_mode = t->mode;
	if (t->mode == TARGET_CGROUP) {
		/* A cgroup v2 directory's inode number is its kernfs id. */
		if (fstat(t->cgroup_fd, &st)) {
			*ret = capture_explain("read the target cgroup", -errno);
			goto fail;
		}
		skel->rodata->target_cgroup_id = st.st_ino;
	}
	skel->rodata->unwind_dwarf = o->st.dwarf;
	err = capture_unwind_configure(skel->obj, &o->st);
	if (err) {
		*ret = capture_explain("size the unwind tables", err);
		goto fail;
	}
	err = threads_bpf__load(skel);
	if (err) {
		*ret = capture_explain("load the BPF program", err);
		goto fail;
	}
	*ret = capture_fill_target(s, skel->obj);
	if (*ret)
		goto fail;
	return skel;
fail:
	threads_bpf__destroy(skel);
	return NULL;
}

/* Reads the maps and names of every process in the snapshot not seen yet. */
static int track_processes(struct session *s, const struct snapshot *snap)
{
	const struct thread_record *r;
	const __u64 *kips, *uips;
	char comm[BPFPROF_COMM_LEN + 1];
	size_t off = 0;
	int err;

	while ((err = thread_record__next(snap->buf, snap->len, &off, &r, &kips, &uips)) > 0) {
		if (session__process_name(s, r->pid))
			continue;
		memcpy(comm, r->comm, BPFPROF_COMM_LEN);
		comm[BPFPROF_COMM_LEN] = '\0';
		session__track(s, r->pid, comm);
	}
	return err;
}

static bool snapshot_has_pid(const struct snapshot *snap, __u32 pid)
{
	const struct thread_record *r;
	const __u64 *kips, *uips;
	size_t off = 0;

	while (thread_record__next(snap->buf, snap->len, &off, &r, &kips, &uips) > 0)
		if (r->pid == pid)
			return true;
	return false;
}

/* The iterator of a pid that is gone just finds nothing: say so. */
static void warn_missing(struct session *s, const struct snapshot *snap)
{
	int i;

	for (i = 0; s->target->mode == TARGET_PIDS && i < s->target->npids; i++)
		if (!snapshot_has_pid(snap, s->target->pids[i]))
			pr_warn("pid %d exited before the snapshot\n", s->target->pids[i]);
}

/*
 * The iterator unwinds as it goes, so the unwind tables of every target
 * process must be in the maps before it runs.  -p names the processes; for
 * -a and --cgroup a first pass without stacks lists them.  A process that
 * appears after this has no tables: its frames fall back to frame pointers.
 */
static int load_unwind_tables(struct session *s, struct threads_bpf *skel)
{
	struct snapshot procs = { 0 };
	int64_t start = mono_ns();
	int i, err = 0;

	if (!s->unwinder)
		return 0;
	if (s->target->mode == TARGET_PIDS) {
		for (i = 0; i < s->target->npids; i++)
			session__track(s, s->target->pids[i], NULL);
	} else {
		skel->bss->list_only = true;
		err = take_snapshot(s, skel, &procs);
		skel->bss->list_only = false;
		if (!err)
			err = track_processes(s, &procs);
		free(procs.buf);
	}
	pr_debug("unwind tables of %zu processes loaded in %.1f ms\n", proctab__count(s->procs_tab),
		 (mono_ns() - start) / 1e6);
	return err;
}

/* Stops feeding the unwinder without a profile to report to. */
static void unwind_abort(struct session *s)
{
	unwinder__free(s->unwinder);
	s->unwinder = NULL;
	s->on_maps = NULL;
}

static int add_thread(struct sample_sink *k, const struct thread_record *r, const __u64 *kips,
		      const __u64 *uips)
{
	static const int64_t one = 1;
	uint64_t locs[STACKS_MAX_LOCATIONS];
	char comm[BPFPROF_COMM_LEN + 1];
	struct pf_label_desc labels[CAPTURE_KEY_LABELS_MAX + 2];
	struct stack_key key = { .pid = r->pid, .tid = r->tid };
	uint64_t in_state;
	int n, nlabels;

	n = stack_resolver__locations_ips(k->r, r->pid, uips, r->nuser, kips, r->nkern, locs,
					  STACKS_MAX_LOCATIONS);
	if (n < 0)
		return n;
	if ((r->flags & THREAD_USTACK_TRUNCATED) && n < STACKS_MAX_LOCATIONS) {
		/* The unwinder stopped early: show where the stack was cut. */
		struct pf_line_desc cut = { .function = "[truncated]" };

		locs[n] = profile__add_location(k->p, 0, 0, &cut, 1);
		if (!locs[n])
			return -ENOMEM;
		n++;
	}
	memcpy(key.comm, r->comm, BPFPROF_COMM_LEN);
	/* pid, tid, comm, process: as every profile type's samples. */
	nlabels = capture_key_labels(k->s, &key, comm, labels);
	labels[nlabels++] =
		(struct pf_label_desc){ .key = "state", .str = thread_record__state(r) };
	if (thread_record__state_ns(r, &in_state))
		labels[nlabels++] = (struct pf_label_desc){ .key = "in_state",
							    .num = (int64_t)in_state,
							    .num_unit = "nanoseconds" };
	return profile__add_sample(k->p, locs, n, &one, labels, nlabels);
}

/* The profile's samples, one per thread record (capture_make_profile's fill). */
static int add_threads(struct sample_sink *k, void *arg)
{
	const struct snapshot *snap = arg;
	const struct thread_record *r;
	const __u64 *kips, *uips;
	uint64_t *counters = k->counters;
	size_t off = 0;
	int err;

	/* A snapshot is an instant: no duration, as Go's goroutine profile. */
	k->p->duration_nanos = 0;
	/* The iterator may run twice for a task: count per record, not in BPF. */
	counters[CNT_EVENTS] = counters[CNT_USTACK_NONE] = counters[CNT_KSTACK_NONE] = 0;
	counters[CNT_UNWIND_TRUNCATED] = 0;
	while ((err = thread_record__next(snap->buf, snap->len, &off, &r, &kips, &uips)) > 0) {
		counters[CNT_EVENTS]++;
		counters[CNT_USTACK_NONE] += !r->nuser;
		counters[CNT_KSTACK_NONE] += !r->nkern;
		counters[CNT_UNWIND_TRUNCATED] += !!(r->flags & THREAD_USTACK_TRUNCATED);
		err = add_thread(k, r, kips, uips);
		if (err)
			break;
	}
	return err;
}

/* With DWARF unwinding: how many user stacks the tables served, in -v and the profile. */
static void report_unwinding(struct profile *p, const struct snapshot *snap)
{
	const struct thread_record *r;
	const __u64 *kips, *uips;
	size_t off = 0, cfi = 0, fp = 0;
	char line[160];

	while (thread_record__next(snap->buf, snap->len, &off, &r, &kips, &uips) > 0) {
		if (!r->nuser)
			continue;
		if (r->flags & THREAD_USTACK_CFI)
			cfi++;
		else
			fp++;
	}
	snprintf(line, sizeof(line),
		 "user stacks: %zu unwound with CFI tables, %zu by frame pointers (no tables for "
		 "their process)",
		 cfi, fp);
	pr_info("%s\n", line);
	profile__add_comment(p, line);
}

static const struct value_type_desc threads_types[] = {
	{ "threads", "count" },
};

static int make_profile(struct session *s, const struct snapshot *snap, struct profile **out)
{
	static const struct profile_shape shape = {
		.types = threads_types,
		.ntypes = 1,
		.period_type = { "threads", "count" },
		.period = 1,
	};
	bool tables = s->unwinder != NULL; /* the final report frees it */
	int err;

	/* No stacks map: the records carry their stacks' addresses. */
	err = capture_make_profile(s, &shape, -1, add_threads, (void *)snap, out);
	if (!err && tables)
		report_unwinding(*out, snap);
	return err;
}

/* The kernel's BPF run-time stats of the program so far (zero when they are off). */
static void run_stats(struct threads_bpf *skel, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.snapshot_thread), info, &len);
}

/*
 * With -v: the program's run time per thread in the snapshot.  Minus the
 * stats before it: the listing pass counts too if another process had
 * turned the stats on already.
 */
static void report_run_time(struct threads_bpf *skel, const struct bpf_prog_info *before)
{
	struct bpf_prog_info info;
	__u64 cnt;

	run_stats(skel, &info);
	cnt = info.run_cnt - before->run_cnt;
	if (!cnt)
		return;
	pr_debug("snapshot: BPF ran %llu times, %.1f us each\n", (unsigned long long)cnt,
		 (info.run_time_ns - before->run_time_ns) / 1e3 / cnt);
}

int collect_threads(struct session *s, const struct threads_opts *o, struct profile **out)
{
	struct snapshot snap = { 0 };
	struct bpf_prog_info stats;
	struct threads_bpf *skel;
	int ret = 0, err, stats_fd = -1;

	skel = load(s, o, &ret);
	if (!skel)
		return ret;
	s->counters_fd = bpf_map__fd(skel->maps.counters);
	err = capture_unwind_start(s, skel->obj);
	if (!err)
		err = load_unwind_tables(s, skel);
	if (err) {
		ret = capture_explain("load the unwind tables", err);
		goto cleanup;
	}
	if (log_level >= LOG_DEBUG)
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	run_stats(skel, &stats);
	s->start_wall = wall_ns();
	s->start_mono = mono_ns();
	err = take_snapshot(s, skel, &snap);
	s->elapsed_ns = mono_ns() - s->start_mono;
	if (err) {
		ret = capture_explain("take the thread snapshot", err);
		goto cleanup;
	}
	pr_debug("snapshot: %zu bytes in %.3f ms\n", snap.len, s->elapsed_ns / 1e6);
	if (stats_fd >= 0)
		report_run_time(skel, &stats);
	warn_missing(s, &snap);
	err = track_processes(s, &snap);
	if (err) {
		pr_warn("cannot build the profile: %s\n", strerror(-err));
		ret = err;
	} else {
		/* It says why it failed. */
		ret = make_profile(s, &snap, out);
	}
cleanup:
	unwind_abort(s);     /* when no profile took the report */
	s->counters_fd = -1; /* the map goes with the skeleton */
	if (stats_fd >= 0)
		close(stats_fd);
	threads_bpf__destroy(skel);
	free(snap.buf);
	return ret;
}

/* --- the command line --- */

enum {
	OPT_TEXT = 0x300,
};

/* The type's options: the collector's, then the command's. */
struct threads_args {
	struct threads_opts threads; /* first: unwind_argp fills its stack options */
	bool text;
};

static const struct argp_option threads_options[] = {
	{ NULL, 0, NULL, 0, "Thread snapshot:", 3 },
	{ "text", OPT_TEXT, NULL, 0,
	  "Print every thread's state and stack on stdout (like Go's goroutine?debug=2) "
	  "instead of the top table; the profile is still written",
	  3 },
	{ 0 },
};

static error_t parse_threads(int key, char *arg, struct argp_state *state)
{
	struct type_args *a = state->input;
	struct threads_args *env = a->opts;

	switch (key) {
	case OPT_TEXT:
		env->text = true;
		break;
	case ARGP_KEY_END:
		/* A snapshot is of what runs now: nothing to launch, nothing to wait for. */
		if (a->common.target.argv)
			return opt_error(
				"threads takes a snapshot of running processes: give -p PID, -a "
				"or --cgroup PATH, not -- CMD");
		if (a->common.duration_ns)
			return opt_error("threads takes a snapshot: -d does not apply");
		if (!a->common.ntarget_kinds)
			return opt_error(
				"threads: no target: give -p PID, -a or --cgroup PATH (see "
				"'bpfprof threads --help')");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp threads_argp = {
	.options = threads_options,
	.parser = parse_threads,
	.doc = "Snapshot every thread of the targets now: its state, how long it has been in "
	       "it, and its kernel and user stacks (Go's goroutine profile, one sample per "
	       "thread).  The threads are not stopped.\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof threads -p 1234            where are the threads of pid 1234\n"
	       "  bpfprof threads -p 1234 --text     every thread's stack, as text\n"
	       "  bpfprof threads -a --unwind fp     every thread of the system, quickly\n"
	       "  go tool pprof -traces threads.pb.gz\n"
	       "  go tool pprof -tagfocus=state=disk -top threads.pb.gz\n"
	       "\n"
	       "-d and -- CMD do not apply: a snapshot is instantaneous.\n"
	       "\n" EXIT_CODES_HELP,
};

static int finish(struct type_args *a, struct session *s, struct profile *p)
{
	struct threads_args *env = a->opts;
	struct common_opts *o = &a->common;
	char what[128];
	int err;

	err = pprof_write_file(p, o->output);
	if (err) {
		pr_warn("cannot write %s: %s\n", o->output, strerror(-err));
		return err;
	}
	if (!p->nsamples) {
		pr_warn("no threads: %s has none now; wrote an empty profile to %s\n",
			target__describe(s->target, what, sizeof(what)), o->output);
		return 0;
	}
	if (env->text) {
		err = threads_text_write(stdout, p);
		if (err) {
			pr_warn("cannot print the threads: %s\n", strerror(-err));
			return err;
		}
	} else if (!o->quiet && o->top > 0) {
		report_top(stdout, p, 0, o->top, REPORT_SKIP_NONE);
	}
	/* With --text, stdout carries the threads alone. */
	if (!o->quiet)
		fprintf(env->text ? stderr : stdout,
			"wrote %s (%zu threads, snapshot in %.1f ms)\n", o->output, p->nsamples,
			s->elapsed_ns / 1e6);
	return 0;
}

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_threads(s, opts, out);
}

static const struct type_endpoint threads_endpoints[] = {
	{ "goroutine",
	  { 0 },
	  { 0 },
	  "Every thread's state and stack, now. debug=1 or debug=2 gives text." },
};

const struct profile_type threads_type = {
	.name = "threads",
	.summary = "every thread's state and stack, now (Go's goroutine profile)",
	.output = "threads.pb.gz",
	.view = {
		.noun = "threads",
		.sample_types = threads_types,
		.nsample_types = ARRAY_SIZE(threads_types),
		.sample_index = 0,
		.skip = REPORT_SKIP_NONE,
	},
	.snapshot = true,
	.stacks = TYPE_STACKS_UNWIND,
	.argp = &threads_argp,
	.opts_size = sizeof(struct threads_args),
	.collect = collect,
	.finish = finish,
	.endpoints = threads_endpoints,
	.nendpoints = ARRAY_SIZE(threads_endpoints),
};
