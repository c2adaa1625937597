// SPDX-License-Identifier: Apache-2.0
/* bpfprof heap: live and allocated memory by stack, as Go's heap profile. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "collect/collect.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "profile/pprof.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "util/util.h"

enum {
	OPT_RATE = 0x200,
	OPT_INTERVAL,
	OPT_MIN_AGE,
	OPT_MODE,
	OPT_MAX_OVERHEAD,
	OPT_FORCE,
	OPT_AT_ENTRY,
	OPT_MAX_LIVE,
	OPT_FAULT_EVERY,
	OPT_COUNT_ONLY,
	OPT_NO_SESSION,
	OPT_ALLOCS,
};

#define HEAP_DEFAULT_RATE (512 * 1024)

struct heap_env {
	struct common_opts common;
	struct heap_opts heap;
	int64_t interval_ns;
	char base[PATH_MAX]; /* numbered snapshots: BASE.0001.pb.gz, ... */
	int nsnapshots;
};

static const struct argp_option heap_options[] = {
	{ NULL, 0, NULL, 0, "Heap profile:", 3 },
	{ "rate", OPT_RATE, "BYTES", 0,
	  "Sample one allocation per BYTES allocated on average, as Go's MemProfileRate "
	  "(default 512k; 1 records every allocation; suffixes k, m, g)",
	  3 },
	{ "interval", OPT_INTERVAL, "SECONDS", 0,
	  "Also write a snapshot every SECONDS: OUTPUT.0001.pb.gz, ... (SIGUSR1 writes one "
	  "at any time)",
	  3 },
	{ "min-age", OPT_MIN_AGE, "SECONDS", 0,
	  "In-use memory: only blocks allocated at least this long ago (leak hunting)", 3 },
	{ "mode", OPT_MODE, "MODE", 0,
	  "alloc (default: uprobes on the allocator, Go's heap profile) or growth (no "
	  "uprobes: brk/mmap and page faults by stack, for allocation-heavy programs)",
	  3 },
	{ "max-overhead", OPT_MAX_OVERHEAD, "PERCENT", 0,
	  "Refuse to attach when the expected slowdown is above this (default 10); detach "
	  "when it stays above it for 3 s while attached",
	  3 },
	{ "force", OPT_FORCE, NULL, 0, "Attach and keep probing whatever the expected slowdown",
	  3 },
	{ "max-live", OPT_MAX_LIVE, "N", 0,
	  "Track at most N sampled live blocks (default 262144; 1048576 with --rate 1)", 3 },
	{ "allocs", OPT_ALLOCS, NULL, 0,
	  "Go's allocs profile: the same data, alloc_space shown by default (in the top "
	  "table and in pprof)",
	  3 },
	{ "fault-every", OPT_FAULT_EVERY, "N", 0,
	  "--mode growth: capture a stack for one page fault in N (default 1)", 3 },
	{ "at-entry", OPT_AT_ENTRY, NULL, OPTION_HIDDEN,
	  "Probe function entries (no placement): for the benchmark", 3 },
	{ "count-only", OPT_COUNT_ONLY, NULL, OPTION_HIDDEN,
	  "Probes only count calls (no overhead check): the benchmark's floor", 3 },
	{ "no-session", OPT_NO_SESSION, NULL, OPTION_HIDDEN,
	  "A return probe on every allocating call, as on kernels before 6.13 (tests)", 3 },
	{ 0 },
};

/* A size: a number with an optional k, m or g suffix (powers of 1024). */
static int parse_bytes(const char *arg, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*arg < '0' || *arg > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10, end++;
		break;
	case 'm':
	case 'M':
		v <<= 20, end++;
		break;
	case 'g':
	case 'G':
		v <<= 30, end++;
		break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v == 0 || v > (1ULL << 40))
		return -EINVAL;
	*out = v;
	return 0;
}

static error_t parse_heap(int key, char *arg, struct argp_state *state)
{
	struct heap_env *env = state->input;
	char *end;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->heap.st; /* --unwind, --unwind-mem */
		break;
	case OPT_RATE:
		if (parse_bytes(arg, &env->heap.rate))
			usage_error("invalid --rate '%s': expected bytes between samples, 1..1g "
				    "(e.g. 1, 4096, 512k)",
				    arg);
		break;
	case OPT_INTERVAL:
		if (parse_duration_ns(arg, &env->interval_ns) || env->interval_ns < 100000000)
			usage_error("invalid --interval '%s': expected seconds, at least 0.1", arg);
		break;
	case OPT_MIN_AGE:
		if (parse_duration_ns(arg, &env->heap.min_age_ns) || env->heap.min_age_ns < 0)
			usage_error("invalid --min-age '%s': expected seconds, e.g. 60", arg);
		break;
	case OPT_MODE:
		if (!strcmp(arg, "alloc"))
			env->heap.mode = HEAP_MODE_ALLOC;
		else if (!strcmp(arg, "growth"))
			env->heap.mode = HEAP_MODE_GROWTH;
		else
			usage_error("invalid --mode '%s': expected alloc or growth", arg);
		break;
	case OPT_MAX_OVERHEAD:
		errno = 0;
		env->heap.max_overhead = strtod(arg, &end);
		if (errno || end == arg || *end || !(env->heap.max_overhead > 0))
			usage_error(
				"invalid --max-overhead '%s': expected a percentage > 0, e.g. 10",
				arg);
		break;
	case OPT_FORCE:
		env->heap.force = true;
		break;
	case OPT_AT_ENTRY:
		env->heap.at_entry = true;
		break;
	case OPT_NO_SESSION:
		env->heap.no_session = true;
		break;
	case OPT_ALLOCS:
		env->heap.allocs = true;
		break;
	case OPT_COUNT_ONLY:
		env->heap.count_only = true;
		env->heap.force = true;
		break;
	case OPT_MAX_LIVE:
		if (parse_long(arg, 1024, 1L << 26, &v))
			usage_error("invalid --max-live '%s': expected 1024..67108864", arg);
		env->heap.max_live = v;
		break;
	case OPT_FAULT_EVERY:
		if (parse_long(arg, 1, 1000000, &v))
			usage_error("invalid --fault-every '%s': expected 1..1000000", arg);
		env->heap.fault_every = v;
		break;
	case ARGP_KEY_END:
		if (env->heap.mode == HEAP_MODE_GROWTH) {
			if (env->heap.rate != HEAP_DEFAULT_RATE || env->heap.min_age_ns ||
			    env->heap.max_live)
				usage_error("--rate, --min-age and --max-live need --mode alloc: "
					    "growth mode does not see allocations");
		} else if (env->common.target.mode != TARGET_PIDS && env->common.ntarget_kinds) {
			usage_error(
				"heap: the allocator's uprobes need processes: give -p PID or -- "
				"CMD (--mode growth works with -a and --cgroup)");
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child heap_children[] = {
	{ &common_argp, 0, NULL, 0 },
	{ &unwind_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp heap_argp = {
	.options = heap_options,
	.parser = parse_heap,
	.args_doc = "[-- CMD [ARGS...]]",
	.doc = "Live and allocated memory by stack (Go's heap profile): uprobes on the\n"
	       "allocator the process uses (glibc, jemalloc, tcmalloc, mimalloc), one\n"
	       "allocation sampled per --rate bytes.  Sample types alloc_objects,\n"
	       "alloc_space (since attaching), inuse_objects, inuse_space (at the\n"
	       "snapshot).  Before attaching, the allocation rate is measured and the\n"
	       "expected slowdown printed; above --max-overhead bpfprof refuses, and\n"
	       "it detaches if a -p process's rate rises above it for 3 s.\n"
	       "Blocks allocated before attaching are not known.\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof heap -p 1234 -d 60               sampled, one snapshot at the end\n"
	       "  bpfprof heap -p 1234 --rate 1 -d 10      every allocation\n"
	       "  bpfprof heap -p 1234 --interval 10 -o h  h.0001.pb.gz, h.0002.pb.gz, ...\n"
	       "  bpfprof heap -p 1234 --min-age 300       live blocks older than 5 minutes\n"
	       "  bpfprof heap -p 1234 --mode growth       which stacks grow the heap, no uprobes\n"
	       "  go tool pprof -sample_index=alloc_space -top heap.pb.gz\n"
	       "  go tool pprof -base h.0001.pb.gz h.0006.pb.gz\n"
	       "\n" EXIT_CODES_HELP,
	.children = heap_children,
};

/* "h" → "h", "heap.pb.gz" → "heap", "x.gz" → "x": the base of numbered snapshots. */
static void snapshot_base(const char *output, char *base, size_t len)
{
	static const char *const suffixes[] = { ".pb.gz", ".pb", ".gz" };
	size_t n = strlen(output), i, k;

	snprintf(base, len, "%s", output);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		k = strlen(suffixes[i]);
		if (n > k && !strcmp(output + n - k, suffixes[i])) {
			base[n - k] = '\0';
			return;
		}
	}
}

static int write_snapshot(void *ctx, struct session *s, struct profile *p)
{
	struct heap_env *env = ctx;
	char path[PATH_MAX + 32];
	int err;

	snprintf(path, sizeof(path), "%s.%04d.pb.gz", env->base, ++env->nsnapshots);
	err = pprof_write_file(p, path);
	if (err) {
		pr_warn("cannot write %s: %s\n", path, strerror(-err));
		return EXIT_FAIL;
	}
	if (!env->common.quiet)
		fprintf(stdout, "wrote %s (snapshot at %.1fs)\n", path, s->elapsed_ns / 1e9);
	fflush(stdout);
	return 0;
}

static int collect(struct session *s, const void *opts, struct profile **out)
{
	const struct heap_opts *o = opts;
	struct heap_env *env = o->snapshot_ctx;
	static char final_path[PATH_MAX + 32];
	int ret;

	s->snapshot_ns = env->interval_ns;
	ret = o->mode == HEAP_MODE_GROWTH ? collect_heap_growth(s, o, out)
					  : collect_heap(s, o, out);
	if (!ret && env->interval_ns) {
		/* With --interval the last snapshot is numbered like the others. */
		snprintf(final_path, sizeof(final_path), "%s.%04d.pb.gz", env->base,
			 ++env->nsnapshots);
		env->common.output = final_path;
	}
	return ret;
}

int cmd_heap(int argc, char **argv)
{
	static struct heap_env env;
	int ret;

	common_opts__init(&env.common, "heap.pb.gz");
	env.heap.rate = HEAP_DEFAULT_RATE;
	env.heap.max_overhead = 10;
	if (argp_parse(&heap_argp, argc, argv, ARGP_IN_ORDER, NULL, &env))
		return EXIT_USAGE;
	ret = common_opts__check(&env.common, "heap");
	if (ret)
		return ret;
	/* Blocks outlive their threads: no tid label. */
	env.heap.st.per_thread = false;
	/*
	 * Growth mode follows a launched command's children, as the other
	 * profile types do; uprobes are attached per process, so alloc mode
	 * profiles the command itself.
	 */
	env.heap.st.follow_children = env.heap.mode == HEAP_MODE_GROWTH && env.common.target.argv;
	if (!env.heap.fault_every)
		env.heap.fault_every = 1;
	snapshot_base(env.common.output, env.base, sizeof(env.base));
	env.heap.snapshot = write_snapshot;
	env.heap.snapshot_ctx = &env;
	if (env.heap.allocs && env.heap.mode == HEAP_MODE_GROWTH) {
		pr_warn("--allocs is alloc mode's: growth mode has no allocations\n");
		return EXIT_USAGE;
	}
	/* The top table shows inuse_space, Go's default for heap profiles (allocs: alloc_space). */
	return cmd_capture(&env.common, collect, &env.heap,
			   env.heap.mode == HEAP_MODE_GROWTH ? HEAP_GROWTH_SAMPLE_INDEX
			   : env.heap.allocs		     ? 1
							     : 3);
}
