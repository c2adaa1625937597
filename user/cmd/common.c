// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "collect/collect.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/pprof.h"
#include "capture/preflight.h"
#include "profile/profile.h"
#include "report/report.h"
#include "capture/session.h"
#include "util/util.h"

enum {
	OPT_CGROUP = 0x100,
	OPT_TOP,
	OPT_NO_TID,
	OPT_CHILDREN,
	OPT_UNWIND,
	OPT_UNWIND_MEM,
};

static const struct argp_option target_options[] = {
	{ NULL, 0, NULL, 0, "Target (exactly one):", 1 },
	{ "pid", 'p', "PID[,PID...]", 0, "Profile these processes, all their threads (repeatable)",
	  1 },
	{ "all", 'a', NULL, 0, "Profile the whole system", 1 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "Profile the tasks of this cgroup v2 and below it", 1 },
	{ 0 },
};

static const struct argp_option common_options[] = {
	{ NULL, 0, NULL, 0, "Capture and output:", 2 },
	{ "duration", 'd', "SECONDS", 0,
	  "Stop after this long (e.g. 30, 1.5, 500ms; default: until Ctrl-C or the "
	  "target exits)",
	  2 },
	{ "output", 'o', "FILE", 0, "Write the profile here (gzipped profile.proto)", 2 },
	{ "top", OPT_TOP, "N", 0, "Print the top N functions (default 10, 0 for none)", 2 },
	{ "quiet", 'q', NULL, 0, "Print nothing but errors", 2 },
	{ "verbose", 'v', NULL, 0, "Debug output, with libbpf's messages", 2 },
	{ 0 },
};

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bpfprof: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(EXIT_USAGE);
}

int64_t duration_arg(const char *arg)
{
	int64_t ns;

	if (parse_duration_ns(arg, &ns) || ns <= 0)
		usage_error("invalid duration '%s': expected seconds, e.g. 30, 1.5 or 500ms", arg);
	return ns;
}

static int add_kind(struct common_opts *o, struct argp_state *state, enum target_mode mode)
{
	/* -p may repeat; any other combination is two kinds. */
	if (o->ntarget_kinds &&
	    !(mode == TARGET_PIDS && o->target.mode == TARGET_PIDS && !o->target.argv))
		usage_error("give exactly one target: -p PID, -a, --cgroup PATH or -- CMD");
	if (!o->ntarget_kinds)
		o->ntarget_kinds = 1;
	o->target.mode = mode;
	return 0;
}

static error_t parse_target(int key, char *arg, struct argp_state *state)
{
	struct common_opts *o = state->input;

	switch (key) {
	case 'p':
		add_kind(o, state, TARGET_PIDS);
		if (target__add_pids(&o->target, arg))
			exit(EXIT_USAGE);
		break;
	case 'a':
		add_kind(o, state, TARGET_ALL);
		break;
	case OPT_CGROUP:
		add_kind(o, state, TARGET_CGROUP);
		o->target.cgroup_path = arg;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp target_argp = {
	.options = target_options,
	.parser = parse_target,
};

static error_t parse_common(int key, char *arg, struct argp_state *state)
{
	struct common_opts *o = state->input;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = o;
		break;
	case 'd':
		o->duration_ns = duration_arg(arg);
		break;
	case 'o':
		if (!*arg)
			usage_error("empty output path");
		o->output = arg;
		break;
	case OPT_TOP:
		if (parse_long(arg, 0, INT_MAX, &v))
			usage_error("invalid --top '%s': expected a number >= 0", arg);
		o->top = v;
		break;
	case 'q':
		o->quiet = true;
		break;
	case 'v':
		o->verbose++;
		break;
	case ARGP_KEY_ARG:
		/* The command to launch: this word and every word after it. */
		if (o->ntarget_kinds)
			usage_error("give exactly one target: -p PID, -a, --cgroup PATH or -- CMD");
		o->ntarget_kinds = 1;
		o->target.mode = TARGET_PIDS;
		o->target.argv = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child common_children[] = {
	{ &target_argp, 0, NULL, 0 },
	{ 0 },
};

const struct argp common_argp = {
	.options = common_options,
	.parser = parse_common,
	.children = common_children,
};

static const struct argp_option unwind_options[] = {
	{ NULL, 0, NULL, 0, "User stacks:", 5 },
	{ "unwind", OPT_UNWIND, "MODE", 0,
	  "dwarf (default: CFI tables, full stacks without frame pointers) or fp (frame "
	  "pointers only)",
	  5 },
	{ "unwind-mem", OPT_UNWIND_MEM, "MIB", 0,
	  "Memory for DWARF unwind tables, 1..4096 MiB (default 32); the least recently used "
	  "tables are evicted when full",
	  5 },
	{ 0 },
};

static error_t parse_unwind(int key, char *arg, struct argp_state *state)
{
	struct stack_opts *o = state->input;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		o->dwarf = true;
		o->unwind_mib = 32;
		break;
	case OPT_UNWIND_MEM:
		if (parse_long(arg, 1, 4096, &v))
			usage_error("invalid --unwind-mem '%s': expected 1..4096 MiB", arg);
		o->unwind_mib = v;
		break;
	case OPT_UNWIND:
		if (!strcmp(arg, "dwarf"))
			o->dwarf = true;
		else if (!strcmp(arg, "fp"))
			o->dwarf = false;
		else
			usage_error("invalid --unwind '%s': expected dwarf or fp", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp unwind_argp = {
	.options = unwind_options,
	.parser = parse_unwind,
};

static const struct argp_option stack_options[] = {
	{ NULL, 0, NULL, 0, "Stacks and threads:", 4 },
	{ "no-tid", OPT_NO_TID, NULL, 0, "No per-thread tid label (default for -a and --cgroup)",
	  4 },
	{ "children", OPT_CHILDREN, NULL, 0,
	  "With -p, also profile processes the targets "
	  "start (always on with -- CMD)",
	  4 },
	{ 0 },
};

static error_t parse_stack(int key, char *arg, struct argp_state *state)
{
	struct stack_args *a = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		/* Before the child's own ARGP_KEY_INIT: argp runs parents first. */
		state->child_inputs[0] = &a->opts;
		a->opts.per_thread = true;
		break;
	case OPT_NO_TID:
		a->opts.per_thread = false;
		a->tid_set = true;
		break;
	case OPT_CHILDREN:
		a->opts.follow_children = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child stack_children[] = {
	{ &unwind_argp, 0, NULL, 0 },
	{ 0 },
};

const struct argp stack_argp = {
	.options = stack_options,
	.parser = parse_stack,
	.children = stack_children,
};

void stack_args__resolve(struct stack_args *a, const struct common_opts *o)
{
	if (!a->tid_set && o->target.mode != TARGET_PIDS)
		a->opts.per_thread = false;
	if (o->target.argv)
		a->opts.follow_children = true;
}

void common_opts__init(struct common_opts *o, const char *default_output)
{
	memset(o, 0, sizeof(*o));
	target__init(&o->target);
	o->output = default_output;
	o->top = 10;
}

/*
 * The output, created when the command starts: it fails now, not after a
 * long capture, when the profile could not be written.
 */
static struct pprof_out output_file = PPROF_OUT_INIT;

static void close_output(void)
{
	pprof_out_close(&output_file);
}

static int check_output(const char *path)
{
	int err = pprof_out_open(&output_file, path);

	if (!err)
		atexit(close_output);
	return err;
}

/* Writes p to -o's file; else tells where it was saved instead.  An exit code. */
int cmd_write_profile(struct common_opts *o, const struct profile *p)
{
	char *saved = NULL;
	int err;

	err = pprof_out_write(&output_file, o->output, p, &saved);
	if (!err)
		return EXIT_OK;
	if (saved)
		pr_warn("cannot write %s: %s; the profile was saved to %s instead\n", o->output,
			strerror(-err), saved);
	else
		pr_warn("cannot write %s: %s\n", o->output, strerror(-err));
	free(saved);
	return EXIT_FAIL;
}

int common_opts__check(struct common_opts *o, const char *cmd)
{
	int err;

	if (o->quiet)
		log_level = LOG_QUIET;
	else if (o->verbose)
		log_level = LOG_DEBUG;
	if (!o->ntarget_kinds) {
		pr_warn("%s: no target: give -p PID, -a, --cgroup PATH or -- CMD (see 'bpfprof %s "
			"--help')\n",
			cmd, cmd);
		return EXIT_USAGE;
	}
	err = preflight_check();
	if (err)
		return err;
	err = check_output(o->output);
	if (err) {
		pr_warn("cannot write %s: %s\n", o->output,
			err == -EACCES ? "not writable" : strerror(-err));
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_finish(struct common_opts *o, struct session *s, struct profile *p, int sample_index)
{
	int64_t total = 0;
	size_t i;
	int err;

	err = cmd_write_profile(o, p);
	if (err)
		return err;
	for (i = 0; i < p->nsamples; i++)
		total += p->samples[i].values[0];
	if (!o->quiet && o->top > 0 && p->nsamples)
		(s->top_allocating ? report_top_allocating
		 : s->top_caller   ? report_top_caller
		 : s->top_user	   ? report_top_user
				   : report_top)(stdout, p, sample_index, o->top);
	if (!p->nsamples) {
		char what[128];

		pr_warn("no samples: %s %s; wrote an empty profile to %s\n",
			target__describe(s->target, what, sizeof(what)), s->idle, o->output);
	} else if (!o->quiet) {
		fprintf(stdout, "wrote %s (%lld %s in %.1fs%s)\n", o->output, (long long)total,
			s->noun, s->elapsed_ns / 1e9, s->interrupted ? ", stopped by signal" : "");
	}
	if (target__saw_only_self(s->target, p))
		pr_warn("this capture only saw bpfprof itself (pid %d), no other program\n",
			(int)getpid());
	return EXIT_OK;
}

int cmd_capture(struct common_opts *o, cmd_collect_fn collect, const void *opts, int sample_index)
{
	struct profile *p = NULL;
	struct session s;
	int ret;

	ret = target__prepare(&o->target);
	if (ret)
		return ret;
	if (session__init(&s, &o->target, o->duration_ns, o->quiet)) {
		target__cleanup(&o->target);
		return EXIT_FAIL;
	}
	capture_setup_libbpf();
	ret = collect(&s, opts, &p);
	if (!ret)
		ret = cmd_finish(o, &s, p, sample_index);
	profile__free(p);
	session__free(&s);
	target__cleanup(&o->target);
	return ret;
}
