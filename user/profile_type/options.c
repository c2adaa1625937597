// SPDX-License-Identifier: Apache-2.0
/*
 * The options every capture command shares, parsed once: the target (-p,
 * -a, --cgroup, -- CMD), -d, -o, --top, -q, -v, and the stack options.
 * Parsers print a bad value's error and return EINVAL (opt_error), so
 * argp_parse fails and the command exits with the usage code.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "profile_type/profile_type.h"
#include "util/util.h"

enum {
	OPT_CGROUP = 0x100,
	OPT_TOP,
	OPT_NO_TID,
	OPT_CHILDREN,
	OPT_UNWIND,
	OPT_UNWIND_MEM,
	OPT_HTML,
};

int opt_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bpfprof: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return EINVAL;
}

int opt_duration(const char *arg, int64_t *ns)
{
	if (parse_duration_ns(arg, ns) || *ns <= 0)
		return opt_error("invalid duration '%s': expected seconds, e.g. 30, 1.5 or 500ms",
				 arg);
	return 0;
}

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
	{ "html", OPT_HTML, "FILE", 0,
	  "Also write an interactive flame graph page (one self-contained HTML file)", 2 },
	{ "top", OPT_TOP, "N", 0, "Print the top N functions (default 10, 0 for none)", 2 },
	{ "quiet", 'q', NULL, 0, "Print nothing but errors", 2 },
	{ "verbose", 'v', NULL, 0, "Debug output, with libbpf's messages", 2 },
	{ 0 },
};

static int one_target(void)
{
	return opt_error("give exactly one target: -p PID, -a, --cgroup PATH or -- CMD");
}

static int add_kind(struct common_opts *o, enum target_mode mode)
{
	/* -p may repeat; any other combination is two kinds. */
	if (o->ntarget_kinds &&
	    !(mode == TARGET_PIDS && o->target.mode == TARGET_PIDS && !o->target.argv))
		return one_target();
	if (!o->ntarget_kinds)
		o->ntarget_kinds = 1;
	o->target.mode = mode;
	return 0;
}

static error_t parse_target(int key, char *arg, struct argp_state *state)
{
	struct common_opts *o = state->input;
	int err;

	switch (key) {
	case 'p':
		err = add_kind(o, TARGET_PIDS);
		if (err)
			return err;
		/* target__add_pids says what is wrong with the list. */
		if (target__add_pids(&o->target, arg))
			return EINVAL;
		break;
	case 'a':
		return add_kind(o, TARGET_ALL);
	case OPT_CGROUP:
		o->target.cgroup_path = arg;
		return add_kind(o, TARGET_CGROUP);
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
		return opt_duration(arg, &o->duration_ns);
	case 'o':
		if (!*arg)
			return opt_error("empty output path");
		o->output = arg;
		break;
	case OPT_HTML:
		if (!*arg)
			return opt_error("empty --html path");
		o->html = arg;
		break;
	case OPT_TOP:
		if (parse_long(arg, 0, INT_MAX, &v))
			return opt_error("invalid --top '%s': expected a number >= 0", arg);
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
			return one_target();
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
			return opt_error("invalid --unwind-mem '%s': expected 1..4096 MiB", arg);
		o->unwind_mib = v;
		break;
	case OPT_UNWIND:
		if (!strcmp(arg, "dwarf"))
			o->dwarf = true;
		else if (!strcmp(arg, "fp"))
			o->dwarf = false;
		else
			return opt_error("invalid --unwind '%s': expected dwarf or fp", arg);
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
