// SPDX-License-Identifier: Apache-2.0
/* bpfprof mutex: contended locks, who waited or who held them, as Go's mutex profile. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "collect/collect.h"
#include "util/exitcode.h"

enum {
	OPT_BY = 0x200,
	OPT_LOCK,
};

struct mutex_env {
	struct common_opts common;
	struct stack_args stack;
	struct mutex_opts mutex;
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
	struct mutex_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->stack;
		break;
	case OPT_BY:
		if (!strcmp(arg, "waiter"))
			env->mutex.by_holder = false;
		else if (!strcmp(arg, "holder"))
			env->mutex.by_holder = true;
		else
			usage_error("invalid --by '%s': expected waiter or holder", arg);
		break;
	case OPT_LOCK:
		if (parse_lock(arg, &env->mutex.lock))
			usage_error("invalid --lock '%s': expected a lock address in hex, e.g. "
				    "0x55d0c0a2b040",
				    arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child mutex_children[] = {
	{ &common_argp, 0, NULL, 0 },
	{ &stack_argp, 0, NULL, 0 },
	{ 0 },
};

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
	.children = mutex_children,
};

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_mutex(s, opts, out);
}

int cmd_mutex(int argc, char **argv)
{
	struct mutex_env env = { 0 };
	int ret;

	common_opts__init(&env.common, "mutex.pb.gz");
	if (argp_parse(&mutex_argp, argc, argv, ARGP_IN_ORDER, NULL, &env))
		return EXIT_USAGE;
	ret = common_opts__check(&env.common, "mutex");
	if (ret)
		return ret;
	stack_args__resolve(&env.stack, &env.common);
	env.mutex.st = env.stack.opts;
	/* The top table shows delay, as `go tool pprof` does by default. */
	return cmd_capture(&env.common, collect, &env.mutex, 1);
}
