// SPDX-License-Identifier: Apache-2.0
/* bpfprof report FILE: the top table of a profile written earlier (or by Go). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/pprof.h"
#include "profile/profile.h"
#include "report/flame.h"
#include "report/report.h"
#include "util/util.h"

struct report_env {
	const char *file;
	const char *sample_index;
	int top;
	bool folded;
	long max_mib;
	const char *html; /* --html: the flame graph page goes here */
	const char *base; /* --base: the profile to compare with */
};

enum { OPT_MAX_MEM = 0x300, OPT_HTML, OPT_BASE };

static const struct argp_option report_options[] = {
	{ "top", 't', "N", 0, "Print the top N functions (default 10, 0 for all)", 0 },
	{ "sample_index", 's', "TYPE", 0, "Sample type to report, e.g. samples or cpu", 0 },
	{ "folded", 'f', NULL, 0,
	  "Folded stacks instead of the top table: \"root;...;leaf VALUE\" per stack, for "
	  "flamegraph.pl, inferno or speedscope",
	  0 },
	{ "html", OPT_HTML, "OUT.html", 0,
	  "Write an interactive flame graph page (one self-contained file) instead", 0 },
	{ "base", OPT_BASE, "BASE", 0,
	  "Compare with this profile: FILE minus BASE, as go tool pprof -base (with --html)", 0 },
	{ "max-mem", OPT_MAX_MEM, "MIB", 0,
	  "Memory the file may take inflated and decoded, in MiB (default 1024)", 0 },
	{ 0 },
};

static error_t parse_report(int key, char *arg, struct argp_state *state)
{
	struct report_env *env = state->input;
	long v;

	switch (key) {
	case 't':
		if (parse_long(arg, 0, INT_MAX, &v))
			return opt_error("invalid --top '%s'", arg);
		env->top = v;
		break;
	case 's':
		env->sample_index = arg;
		break;
	case 'f':
		env->folded = true;
		break;
	case OPT_HTML:
		if (!*arg)
			return opt_error("empty --html path");
		env->html = arg;
		break;
	case OPT_BASE:
		env->base = arg;
		break;
	case OPT_MAX_MEM:
		if (parse_long(arg, 1, 1L << 20, &v))
			return opt_error("invalid --max-mem '%s': expected 1..1048576 MiB", arg);
		env->max_mib = v;
		break;
	case ARGP_KEY_ARG:
		if (env->file)
			return opt_error("one profile file at a time");
		env->file = arg;
		break;
	case ARGP_KEY_END:
		if (!env->file)
			return opt_error("no profile file given");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp report_argp = {
	.options = report_options,
	.parser = parse_report,
	.args_doc = "FILE",
	.doc = "Print the top functions of a profile (like go tool pprof -top), or its\n"
	       "stacks folded for a flame graph.\v"
	       "Examples:\n"
	       "  bpfprof report cpu.pb.gz\n"
	       "  bpfprof report --sample_index=delay offcpu.pb.gz\n"
	       "  bpfprof report --folded cpu.pb.gz | flamegraph.pl > cpu.svg\n"
	       "  bpfprof report --html cpu.html cpu.pb.gz\n"
	       "  bpfprof report --html diff.html --base before.pb.gz after.pb.gz\n"
	       "\n" EXIT_CODES_HELP,
};

/* Reads a profile file; one line saying why not.  0 or -errno. */
static int read_profile(const char *file, long max_mib, struct profile **p)
{
	int err = pprof_read_file_max(file, (size_t)max_mib << 20, p);

	if (err == -EFBIG)
		pr_warn("cannot read %s: it takes more than %ld MiB inflated and decoded "
			"(--max-mem)\n",
			file, max_mib);
	else if (err)
		pr_warn("cannot read %s: %s\n", file,
			err == -EINVAL	  ? "not a pprof profile"
			: err == -ENODATA ? "empty input file"
					  : strerror(-err));
	return err;
}

/* --html: the flame graph page of the profile, or of its difference from --base. */
static int report_html(const struct report_env *env, const struct profile *p)
{
	struct profile *base = NULL;
	char title[512];
	int err;

	if (env->base) {
		if (read_profile(env->base, env->max_mib, &base))
			return EXIT_USAGE;
		snprintf(title, sizeof(title), "%s against %s", env->file, env->base);
	} else {
		snprintf(title, sizeof(title), "%s", env->file);
	}
	err = flame_write_file(env->html, p, base, title);
	profile__free(base);
	if (err)
		return err == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	return EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	struct report_env env = { .top = 10, .max_mib = PPROF_DEFAULT_MAX_MEM >> 20 };
	struct profile *p = NULL;
	int si, err;

	if (argp_parse(&report_argp, argc, argv, 0, NULL, &env))
		return EXIT_USAGE;
	if (env.base && !env.html) {
		pr_warn("--base needs --html\n");
		return EXIT_USAGE;
	}
	if (read_profile(env.file, env.max_mib, &p))
		return EXIT_USAGE;
	if (env.html) {
		err = report_html(&env, p);
		profile__free(p);
		return err;
	}
	si = env.sample_index ? profile__sample_type_index(p, env.sample_index)
			      : report_default_index(p);
	if (si < 0) {
		pr_warn("%s has no sample type '%s'\n", env.file,
			env.sample_index ? env.sample_index : "");
		profile__free(p);
		return EXIT_USAGE;
	}
	err = env.folded ? report_folded(stdout, p, si)
			 : report_top(stdout, p, si, env.top, REPORT_SKIP_NONE);
	profile__free(p);
	return err ? EXIT_FAIL : EXIT_OK;
}
