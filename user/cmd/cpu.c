// SPDX-License-Identifier: Apache-2.0
/* bpfprof cpu: where the CPU time goes, as Go's CPU profile. */
#include <limits.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "collect/collect.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "util/util.h"

enum {
	OPT_USER_ONLY = 0x200,
	OPT_KERNEL_ONLY,
};

struct cpu_env {
	struct common_opts common;
	struct stack_args stack;
	struct cpu_opts cpu;
};

static const struct argp_option cpu_options[] = {
	{ NULL, 0, NULL, 0, "CPU profile:", 3 },
	{ "freq", 'F', "HZ", 0, "Samples per second on each CPU, 1..10000 (default 99)", 3 },
	{ "user-only", OPT_USER_ONLY, NULL, 0,
	  "Only user stacks (time in the kernel is "
	  "attributed to the user code that entered it)",
	  3 },
	{ "kernel-only", OPT_KERNEL_ONLY, NULL, 0,
	  "Only samples taken in the kernel, "
	  "kernel stacks",
	  3 },
	{ 0 },
};

static error_t parse_cpu(int key, char *arg, struct argp_state *state)
{
	struct cpu_env *env = state->input;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->stack;
		break;
	case 'F':
		if (parse_long(arg, 1, 10000, &v))
			usage_error("invalid frequency '%s': expected 1..10000 Hz", arg);
		env->cpu.freq = v;
		break;
	case OPT_USER_ONLY:
		env->cpu.kernel = false;
		break;
	case OPT_KERNEL_ONLY:
		env->cpu.user = false;
		env->cpu.kernel_only = true;
		break;
	case ARGP_KEY_END:
		if (!env->cpu.user && !env->cpu.kernel)
			usage_error("--user-only and --kernel-only exclude each other");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child cpu_children[] = {
	{ &common_argp, 0, NULL, 0 },
	{ &stack_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp cpu_argp = {
	.options = cpu_options,
	.parser = parse_cpu,
	.args_doc = "[-- CMD [ARGS...]]",
	.doc = "Sample the stacks of running threads (Go's CPU profile).\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof cpu -p 1234 -d 30          profile pid 1234 for 30 seconds\n"
	       "  bpfprof cpu -a -d 10 -F 999        the whole system at 999 Hz\n"
	       "  bpfprof cpu -o app.pb.gz -- ./app  launch ./app, profile it until it exits\n"
	       "  go tool pprof -http=:8080 cpu.pb.gz\n"
	       "\n" EXIT_CODES_HELP,
	.children = cpu_children,
};

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_cpu(s, opts, out);
}

int cmd_cpu(int argc, char **argv)
{
	struct cpu_env env = {
		.cpu = { .freq = 99, .user = true, .kernel = true },
	};
	int ret;

	common_opts__init(&env.common, "cpu.pb.gz");
	if (argp_parse(&cpu_argp, argc, argv, ARGP_IN_ORDER, NULL, &env))
		return EXIT_USAGE;
	ret = common_opts__check(&env.common, "cpu");
	if (ret)
		return ret;
	stack_args__resolve(&env.stack, &env.common);
	env.cpu.st = env.stack.opts;
	return cmd_capture(&env.common, collect, &env.cpu, 1);
}
