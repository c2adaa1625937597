// SPDX-License-Identifier: Apache-2.0
/* bpfprof report FILE: the top table of a profile written earlier (or by Go). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/diff.h"
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
	const char *base; /* --base or --diff_base */
	bool diff_base;	  /* percentages of the base's total */
	bool traces;	  /* --traces */
	const char *svg;  /* --svg OUT */
	const char *html; /* --html: the flame graph page goes here */
};

enum { OPT_MAX_MEM = 0x300, OPT_BASE, OPT_DIFF_BASE, OPT_TRACES, OPT_SVG, OPT_HTML };

static const struct argp_option report_options[] = {
	{ "top", 't', "N", 0, "Print the top N functions (default 10, 0 for all)", 0 },
	{ "sample_index", 's', "TYPE", 0, "Sample type to report, e.g. samples or cpu", 0 },
	{ "folded", 'f', NULL, 0,
	  "Folded stacks instead of the top table: \"root;...;leaf VALUE\" per stack, for "
	  "flamegraph.pl, inferno or speedscope",
	  0 },
	{ "html", OPT_HTML, "OUT.html", 0,
	  "Write an interactive flame graph page (one self-contained file) instead", 0 },
	{ "max-mem", OPT_MAX_MEM, "MIB", 0,
	  "Memory the file may take inflated and decoded, in MiB (default 1024)", 0 },
	{ "base", OPT_BASE, "BASE", 0,
	  "Show FILE minus BASE (go tool pprof -base): the changes per function, or per "
	  "stack with --folded (\"stack BASE NEW\"), or on the flame graph with --svg or --html",
	  0 },
	{ "diff_base", OPT_DIFF_BASE, "BASE", 0,
	  "As --base, with percentages of BASE's total (go tool pprof -diff_base)", 0 },
	{ "traces", OPT_TRACES, NULL, 0,
	  "Every stack with its value and labels (go tool pprof -traces)", 0 },
	{ "svg", OPT_SVG, "OUT", 0, "Write a flame graph to OUT, an SVG file", 0 },
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
	case OPT_MAX_MEM:
		if (parse_long(arg, 1, 1L << 20, &v))
			return opt_error("invalid --max-mem '%s': expected 1..1048576 MiB", arg);
		env->max_mib = v;
		break;
	case OPT_BASE:
	case OPT_DIFF_BASE:
		if (env->base)
			return opt_error("one base profile at a time");
		env->base = arg;
		env->diff_base = key == OPT_DIFF_BASE;
		break;
	case OPT_TRACES:
		env->traces = true;
		break;
	case OPT_SVG:
		env->svg = arg;
		break;
	case OPT_HTML:
		if (!*arg)
			return opt_error("empty --html path");
		env->html = arg;
		break;
	case ARGP_KEY_ARG:
		if (env->file)
			return opt_error("one profile file at a time");
		env->file = arg;
		break;
	case ARGP_KEY_END:
		if (!env->file)
			return opt_error("no profile file given");
		if (env->folded + env->traces + !!env->svg + !!env->html > 1)
			return opt_error("--folded, --traces, --svg and --html are different "
					 "reports: give one");
		if (env->html && env->diff_base)
			return opt_error("--html compares with --base, not --diff_base");
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
	.doc = "Print the top functions of a profile (like go tool pprof -top), its\n"
	       "stacks folded for a flame graph or with their labels (-traces), its\n"
	       "difference from a base profile, or write a flame graph as SVG or as an\n"
	       "interactive page.\v"
	       "Examples:\n"
	       "  bpfprof report cpu.pb.gz\n"
	       "  bpfprof report --sample_index=delay offcpu.pb.gz\n"
	       "  bpfprof report --folded cpu.pb.gz | flamegraph.pl > cpu.svg\n"
	       "  bpfprof report --base before.pb.gz after.pb.gz\n"
	       "  bpfprof report --traces cpu.pb.gz\n"
	       "  bpfprof report --svg cpu.svg cpu.pb.gz\n"
	       "  bpfprof report --html cpu.html cpu.pb.gz\n"
	       "  bpfprof report --html diff.html --base before.pb.gz after.pb.gz\n"
	       "\n" EXIT_CODES_HELP,
};

/* Reads file into *p; prints why not.  0 or EXIT_USAGE. */
static int read_profile(const struct report_env *env, const char *file, struct profile **p)
{
	int err = pprof_read_file_max(file, (size_t)env->max_mib << 20, p);

	if (err == -EFBIG)
		pr_warn("cannot read %s: it takes more than %ld MiB inflated and decoded "
			"(--max-mem)\n",
			file, env->max_mib);
	else if (err)
		pr_warn("cannot read %s: %s\n", file,
			err == -EINVAL	  ? "not a pprof profile"
			: err == -ENODATA ? "empty input file"
					  : strerror(-err));
	return err ? EXIT_USAGE : 0;
}

/* "samples/count cpu/nanoseconds", for a message. */
static void type_list(const struct profile *p, char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < p->nsample_types && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s/%s", i ? " " : "",
			      profile__str(p, p->sample_types[i].type),
			      profile__str(p, p->sample_types[i].unit));
}

/* *diff = new - base, or a usage error when their sample types differ. */
static int make_diff(const struct report_env *env, const struct profile *base,
		     const struct profile *p, struct profile **diff)
{
	char bt[256], nt[256];
	int err = profile__diff(base, p, env->diff_base, diff);

	if (err == -EDOM) {
		type_list(base, bt, sizeof(bt));
		type_list(p, nt, sizeof(nt));
		pr_warn("cannot compare %s with %s: their sample types differ (%s; %s)\n",
			env->file, env->base, nt, bt);
		return EXIT_USAGE;
	}
	if (err == -EINVAL) {
		pr_warn("cannot compare %s with %s: a sample names a location or mapping that "
			"is not there\n",
			env->file, env->base);
		return EXIT_USAGE;
	}
	if (err) {
		pr_warn("cannot compare %s with %s: %s\n", env->file, env->base, strerror(-err));
		return EXIT_FAIL;
	}
	return 0;
}

static int write_svg(const struct report_env *env, const struct profile *p, int si,
		     const struct profile *diff)
{
	FILE *f = fopen(env->svg, "w");
	int err;

	if (!f) {
		pr_warn("cannot write %s: %s\n", env->svg, strerror(errno));
		return EXIT_USAGE;
	}
	err = report_svg(f, diff ? diff : p, si, diff != NULL);
	if (fclose(f) && !err)
		err = -errno;
	if (err) {
		pr_warn("cannot write %s: %s\n", env->svg, strerror(-err));
		unlink(env->svg);
		return EXIT_FAIL;
	}
	printf("wrote %s\n", env->svg);
	return EXIT_OK;
}

/* --html: the flame graph page of the profile, or of its difference from --base. */
static int report_html(const struct report_env *env, const struct profile *p,
		       const struct profile *base)
{
	char title[512];
	int err;

	if (base)
		snprintf(title, sizeof(title), "%s against %s", env->file, env->base);
	else
		snprintf(title, sizeof(title), "%s", env->file);
	err = flame_write_file(env->html, p, base, title);
	if (err)
		return err == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	return EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	struct report_env env = { .top = 10, .max_mib = PPROF_DEFAULT_MAX_MEM >> 20 };
	struct profile *p = NULL, *base = NULL, *diff = NULL;
	int si, bsi = 0, err, ret;

	if (argp_parse(&report_argp, argc, argv, 0, NULL, &env))
		return EXIT_USAGE;
	ret = read_profile(&env, env.file, &p);
	if (!ret && env.base)
		ret = read_profile(&env, env.base, &base);
	if (ret)
		goto out;
	if (env.html) {
		ret = report_html(&env, p, base);
		goto out;
	}
	si = env.sample_index ? profile__sample_type_index(p, env.sample_index)
			      : report_default_index(p);
	if (si < 0) {
		pr_warn("%s has no sample type '%s'\n", env.file,
			env.sample_index ? env.sample_index : "");
		ret = EXIT_USAGE;
		goto out;
	}
	if (base) {
		/* The flame graph tells base from new by pprof's label. */
		if (env.svg)
			env.diff_base = true;
		ret = make_diff(&env, base, p, &diff);
		if (ret)
			goto out;
		bsi = si; /* the same types in the same order */
	}
	if (env.svg) {
		ret = write_svg(&env, p, si, diff);
		goto out;
	}
	if (env.folded)
		err = base ? report_folded_diff(stdout, base, bsi, p, si)
			   : report_folded(stdout, p, si);
	else if (env.traces)
		err = report_traces(stdout, diff ? diff : p, si);
	else if (diff)
		err = report_diff_top(stdout, diff, si, env.top);
	else
		err = report_top(stdout, p, si, env.top, REPORT_SKIP_NONE);
	ret = err ? EXIT_FAIL : EXIT_OK;
out:
	profile__free(diff);
	profile__free(base);
	profile__free(p);
	return ret;
}
