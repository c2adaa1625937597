// SPDX-License-Identifier: Apache-2.0
/*
 * The driver of every capture command, from the profile type's descriptor:
 * parse (the type's options with the shared ones), check, prepare the
 * target and the session, collect, write and report.  Errors arrive as
 * -errno; cmd_exit_code() turns them into exit codes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/errors.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/pprof.h"
#include "capture/preflight.h"
#include "profile/profile.h"
#include "report/flame.h"
#include "report/report.h"
#include "capture/session.h"

int cmd_exit_code(int err)
{
	switch (-err) {
	case 0:
		return EXIT_OK;
	case BPFPROF_EUSAGE:
		return EXIT_USAGE;
	case BPFPROF_ETARGET:
		return EXIT_TARGET;
	case BPFPROF_ESYSTEM:
		return EXIT_SYSTEM;
	default:
		return EXIT_FAIL;
	}
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

/* Writes p to -o's file; else tells where it was saved instead.  0 or -errno. */
static int write_profile(struct common_opts *o, const struct profile *p)
{
	char *saved = NULL;
	int err;

	err = pprof_out_write(&output_file, o->output, p, &saved);
	if (!err)
		return 0;
	if (saved)
		pr_warn("cannot write %s: %s; the profile was saved to %s instead\n", o->output,
			strerror(-err), saved);
	else
		pr_warn("cannot write %s: %s\n", o->output, strerror(-err));
	free(saved);
	return err;
}

/* After parsing: one target kind, a writable output, privileges and BTF. */
static int check_common(struct common_opts *o, const char *cmd)
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
		return -BPFPROF_EUSAGE;
	}
	err = preflight_check();
	if (err)
		return err;
	err = check_output(o->output);
	if (err) {
		pr_warn("cannot write %s: %s\n", o->output,
			err == -EACCES ? "not writable" : strerror(-err));
		return -BPFPROF_EUSAGE;
	}
	return 0;
}

/* The end of a capture: write the profile, print the top table and the summary line. */
static int finish(struct type_args *a, struct session *s, struct profile *p)
{
	const struct type_view *v = profile_type__view(a->type, a->opts);
	struct common_opts *o = &a->common;
	int64_t total = 0;
	size_t i;
	int err;

	err = write_profile(o, p);
	if (err)
		return err;
	for (i = 0; i < p->nsamples; i++)
		total += p->samples[i].values[0];
	if (!o->quiet && o->top > 0 && p->nsamples)
		report_top(stdout, p, v->sample_index, o->top, v->skip);
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
	return 0;
}

/* --html: the flame graph page of the profile just written, titled by its file. */
static int write_html(struct type_args *a, const struct profile *p)
{
	const struct common_opts *o = &a->common;
	char title[512];
	int err;

	snprintf(title, sizeof(title), "%s: %s", a->type->name, o->output);
	err = flame_write_file(o->html, p, NULL, title);
	if (!err && !o->quiet)
		fprintf(stdout, "wrote %s\n", o->html);
	return err;
}

/* A whole capture after parsing: target, session, collector, end. */
static int capture(struct type_args *a)
{
	const struct profile_type *t = a->type;
	const struct type_view *v = profile_type__view(t, a->opts);
	struct profile *p = NULL;
	struct session s;
	int err;

	err = target__prepare(&a->common.target);
	if (err)
		return err;
	err = session__init(&s, &a->common.target, a->common.duration_ns, a->common.quiet);
	if (err) {
		target__cleanup(&a->common.target);
		return err;
	}
	if (v->noun)
		s.noun = v->noun;
	if (v->idle)
		s.idle = v->idle;
	s.stop_for_maps = t->stop_for_maps && a->common.target.argv;
	capture_setup_libbpf();
	err = t->collect(&s, a->opts, &p);
	if (!err)
		err = (t->finish ? t->finish : finish)(a, &s, p);
	if (!err && a->common.html)
		err = write_html(a, p);
	profile__free(p);
	session__free(&s);
	target__cleanup(&a->common.target);
	return err;
}

/* Hands the shared options their inputs, then lets the type parse. */
static error_t parse_type(int key, char *arg, struct argp_state *state)
{
	struct type_args *a = state->input;
	const struct argp *own = a->type->argp;
	error_t err;

	if (key == ARGP_KEY_INIT) {
		state->child_inputs[0] = &a->common;
		state->child_inputs[1] =
			a->type->stacks == TYPE_STACKS_THREADS ? (void *)&a->stack : a->opts;
	}
	err = own->parser ? own->parser(key, arg, state) : ARGP_ERR_UNKNOWN;
	if (key == ARGP_KEY_INIT && err == ARGP_ERR_UNKNOWN)
		err = 0;
	return err;
}

static const struct argp_child thread_children[] = {
	{ &common_argp, 0, NULL, 0 },
	{ &stack_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp_child unwind_children[] = {
	{ &common_argp, 0, NULL, 0 },
	{ &unwind_argp, 0, NULL, 0 },
	{ 0 },
};

int cmd_parse_type(struct type_args *a, int argc, char **argv, unsigned int flags)
{
	const struct profile_type *t = a->type;
	struct argp argp = *t->argp;

	argp.parser = parse_type;
	argp.children = t->stacks == TYPE_STACKS_THREADS ? thread_children : unwind_children;
	common_opts__init(&a->common, t->output);
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER | flags, NULL, a))
		return -BPFPROF_EUSAGE;
	return 0;
}

static int parse_and_check(struct type_args *a, int argc, char **argv)
{
	const struct profile_type *t = a->type;
	int err;

	err = cmd_parse_type(a, argc, argv, 0);
	if (err)
		return err;
	err = check_common(&a->common, t->name);
	if (err)
		return err;
	if (t->stacks == TYPE_STACKS_THREADS) {
		stack_args__resolve(&a->stack, &a->common);
		*(struct stack_opts *)a->opts = a->stack.opts;
	}
	return t->setup ? t->setup(a) : 0;
}

int cmd_run_type(const struct profile_type *t, int argc, char **argv)
{
	struct type_args a = { .type = t };
	int err;

	a.opts = calloc(1, t->opts_size);
	if (!a.opts) {
		pr_warn("out of memory\n");
		return EXIT_FAIL;
	}
	err = parse_and_check(&a, argc, argv);
	if (!err)
		err = capture(&a);
	free(a.opts);
	return cmd_exit_code(err);
}
