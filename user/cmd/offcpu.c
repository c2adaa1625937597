// SPDX-License-Identifier: Apache-2.0
/* bpfprof offcpu: where threads wait off the CPU, as Go's block profile. */
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "collect/collect.h"
#include "util/exitcode.h"
#include "util/util.h"

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

struct offcpu_env {
	struct common_opts common;
	struct stack_args stack;
	struct offcpu_opts offcpu;
};

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
static void parse_states(const char *arg, uint32_t *mask)
{
	char *copy = strdup(arg), *name, *save = NULL;
	int state;

	if (!copy)
		usage_error("out of memory");
	for (name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		state = offcpu_state_parse(name);
		if (state < 0)
			usage_error("invalid --state '%s': expected sleeping, disk, runnable or "
				    "stopped",
				    name);
		*mask |= 1u << state;
	}
	free(copy);
	if (!*mask)
		usage_error("invalid --state '%s': expected sleeping, disk, runnable or stopped",
			    arg);
}

static error_t parse_offcpu(int key, char *arg, struct argp_state *state)
{
	struct offcpu_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->stack;
		break;
	case OPT_MIN_BLOCK:
		if (parse_duration_ns(arg, &env->offcpu.min_block_ns))
			usage_error("invalid --min-block '%s': expected a duration, e.g. 1ms, "
				    "50us or 0.5",
				    arg);
		break;
	case OPT_STATE:
		parse_states(arg, &env->offcpu.states);
		break;
	case OPT_BLOCK_RATE:
		if (parse_duration_ns(arg, &env->offcpu.block_rate_ns) ||
		    env->offcpu.block_rate_ns > MAX_BLOCK_RATE_NS)
			usage_error("invalid --block-rate '%s': expected a duration up to 1s, e.g. "
				    "1ms or 100us (0: --exact)",
				    arg);
		break;
	case OPT_EXACT:
		env->offcpu.block_rate_ns = 0;
		break;
	case OPT_USER_ONLY:
		env->offcpu.kernel = false;
		break;
	case ARGP_KEY_END:
		if (!env->offcpu.states)
			env->offcpu.states = (1u << OFFCPU_STATE__MAX) - 1;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child offcpu_children[] = {
	{ &common_argp, 0, NULL, 0 },
	{ &stack_argp, 0, NULL, 0 },
	{ 0 },
};

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
	.children = offcpu_children,
};

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_offcpu(s, opts, out);
}

int cmd_offcpu(int argc, char **argv)
{
	struct offcpu_env env = { 0 };
	int ret;

	common_opts__init(&env.common, "offcpu.pb.gz");
	env.offcpu.block_rate_ns = DEFAULT_BLOCK_RATE_NS;
	env.offcpu.user = true;
	env.offcpu.kernel = true;
	if (argp_parse(&offcpu_argp, argc, argv, ARGP_IN_ORDER, NULL, &env))
		return EXIT_USAGE;
	ret = common_opts__check(&env.common, "offcpu");
	if (ret)
		return ret;
	stack_args__resolve(&env.stack, &env.common);
	env.offcpu.st = env.stack.opts;
	/* The top table shows delay, as `go tool pprof` does by default. */
	return cmd_capture(&env.common, collect, &env.offcpu, 1);
}
