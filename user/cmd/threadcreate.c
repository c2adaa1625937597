// SPDX-License-Identifier: Apache-2.0
/* bpfprof threadcreate: which stacks create threads and processes, as Go's profile. */
#include "cmd/cmd.h"
#include "collect/collect.h"
#include "util/exitcode.h"

struct threadcreate_env {
	struct common_opts common;
	struct stack_args stack;
	struct threadcreate_opts tc;
};

static error_t parse_threadcreate(int key, char *arg, struct argp_state *state)
{
	struct threadcreate_env *env = state->input;

	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	state->child_inputs[0] = &env->common;
	state->child_inputs[1] = &env->stack;
	return 0;
}

static const struct argp_child threadcreate_children[] = {
	{ &common_argp, 0, NULL, 0 },
	{ &stack_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp threadcreate_argp = {
	.parser = parse_threadcreate,
	.args_doc = "[-- CMD [ARGS...]]",
	.doc = "Stacks that create threads and processes (Go's threadcreate profile).\n"
	       "Every fork, vfork and clone of a target counts once at the creating\n"
	       "thread's stack (label kind: thread or process).\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof threadcreate -p 1234 -d 30       who creates threads in pid 1234\n"
	       "  bpfprof threadcreate -- make -j4         every fork of a build\n"
	       "  go tool pprof -top -tagfocus=kind=thread threadcreate.pb.gz\n"
	       "\n" EXIT_CODES_HELP,
	.children = threadcreate_children,
};

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_threadcreate(s, opts, out);
}

int cmd_threadcreate(int argc, char **argv)
{
	struct threadcreate_env env = { 0 };
	int ret;

	common_opts__init(&env.common, "threadcreate.pb.gz");
	if (argp_parse(&threadcreate_argp, argc, argv, ARGP_IN_ORDER, NULL, &env))
		return EXIT_USAGE;
	ret = common_opts__check(&env.common, "threadcreate");
	if (ret)
		return ret;
	stack_args__resolve(&env.stack, &env.common);
	env.tc.st = env.stack.opts;
	return cmd_capture(&env.common, collect, &env.tc, 0);
}
