// SPDX-License-Identifier: Apache-2.0
/* bpfprof threads: what every thread is doing right now (Go's goroutine profile). */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "collect/collect.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/pprof.h"
#include "profile/profile.h"
#include "report/report.h"
#include "capture/session.h"
#include "report/threads_text.h"

enum {
	OPT_TEXT = 0x300,
};

struct threads_env {
	struct common_opts common;
	struct threads_opts threads;
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
	struct threads_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->threads.st;
		break;
	case OPT_TEXT:
		env->text = true;
		break;
	case ARGP_KEY_END:
		/* A snapshot is of what runs now: nothing to launch, nothing to wait for. */
		if (env->common.target.argv)
			usage_error(
				"threads takes a snapshot of running processes: give -p PID, -a "
				"or --cgroup PATH, not -- CMD");
		if (env->common.duration_ns)
			usage_error("threads takes a snapshot: -d does not apply");
		if (!env->common.ntarget_kinds)
			usage_error("threads: no target: give -p PID, -a or --cgroup PATH (see "
				    "'bpfprof threads --help')");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child threads_children[] = {
	{ &common_argp, 0, NULL, 0 },
	{ &unwind_argp, 0, NULL, 0 },
	{ 0 },
};

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
	.children = threads_children,
};

static int finish(struct threads_env *env, struct session *s, struct profile *p)
{
	struct common_opts *o = &env->common;
	char what[128];
	int err;

	err = pprof_write_file(p, o->output);
	if (err) {
		pr_warn("cannot write %s: %s\n", o->output, strerror(-err));
		return EXIT_FAIL;
	}
	if (!p->nsamples) {
		pr_warn("no threads: %s has none now; wrote an empty profile to %s\n",
			target__describe(s->target, what, sizeof(what)), o->output);
		return EXIT_OK;
	}
	if (env->text) {
		err = threads_text_write(stdout, p);
		if (err) {
			pr_warn("cannot print the threads: %s\n", strerror(-err));
			return EXIT_FAIL;
		}
	} else if (!o->quiet && o->top > 0) {
		report_top(stdout, p, 0, o->top);
	}
	/* With --text, stdout carries the threads alone. */
	if (!o->quiet)
		fprintf(env->text ? stderr : stdout,
			"wrote %s (%zu threads, snapshot in %.1f ms)\n", o->output, p->nsamples,
			s->elapsed_ns / 1e6);
	return EXIT_OK;
}

int cmd_threads(int argc, char **argv)
{
	struct threads_env env = { 0 };
	struct profile *p = NULL;
	struct session s;
	int ret;

	common_opts__init(&env.common, "threads.pb.gz");
	if (argp_parse(&threads_argp, argc, argv, ARGP_IN_ORDER, NULL, &env))
		return EXIT_USAGE;
	ret = common_opts__check(&env.common, "threads");
	if (ret)
		return ret;
	ret = target__prepare(&env.common.target);
	if (ret)
		return ret;
	if (session__init(&s, &env.common.target, 0, env.common.quiet)) {
		target__cleanup(&env.common.target);
		return EXIT_FAIL;
	}
	s.noun = "threads";
	capture_setup_libbpf();
	ret = collect_threads(&s, &env.threads, &p);
	if (!ret)
		ret = finish(&env, &s, p);
	profile__free(p);
	session__free(&s);
	target__cleanup(&env.common.target);
	return ret;
}
