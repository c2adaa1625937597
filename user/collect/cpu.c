// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof cpu: where the CPU time goes, as Go's CPU profile.  cpu.bpf.c
 * counts samples per stack key in the kernel; at the end we read the counts
 * once and build a profile with Go's CPU profile names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "profile_type/collectors.h"
#include "cpu.skel.h"
#include "profile_type/profile_type.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "util/util.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "capture/target.h"

#define COUNTS_MAX_ENTRIES 65536

/*
 * The stacks map is preallocated (about 1 KiB an entry): size it for what
 * the capture can produce, at most two new stacks a sample.
 */
static __u32 stacks_map_size(const struct session *s, const struct cpu_opts *o)
{
	double samples = (double)libbpf_num_possible_cpus() * o->freq * 2;

	if (!s->duration_ns)
		return 32768;
	samples *= s->duration_ns / 1e9;
	if (samples < 4096)
		return 4096;
	return samples > 131072 ? 131072 : (__u32)samples;
}

static void *open_and_load(struct session *s, const void *opts, bool btf, int *err)
{
	const struct cpu_opts *o = opts;
	struct cpu_bpf *skel = cpu_bpf__open();

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	CAPTURE_SET_STACK_RODATA(skel, s, &o->st);
	skel->rodata->exclude_tgid = 0; /* the agent's CPU is what it costs: shown */
	skel->rodata->capture_user = o->user;
	skel->rodata->capture_kernel = o->kernel;
	bpf_map__set_max_entries(skel->maps.counts, COUNTS_MAX_ENTRIES);
	bpf_map__set_max_entries(skel->maps.stacks, stacks_map_size(s, o));
	capture_select_tp(skel->obj, btf);
	*err = cpu_bpf__load(skel);
	if (*err) {
		cpu_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* counts: stack_key → samples; each sample stands for period ns. */
static int count_entry(const void *key, const void *value, int64_t *values,
		       struct pf_label_desc *extra, void *arg)
{
	const __u64 *count = value;
	const int64_t *period = arg;

	values[0] = *count;
	values[1] = *count * *period;
	return 0;
}

static int fill(struct sample_sink *k, void *arg)
{
	struct cpu_bpf *skel = arg;
	int64_t period = k->p->period;

	return capture_add_map(k, bpf_map__fd(skel->maps.counts), count_entry, &period);
}

static const struct value_type_desc cpu_types[] = {
	{ "samples", "count" },
	{ "cpu", "nanoseconds" },
};

int collect_cpu(struct session *s, const struct cpu_opts *o, struct profile **out)
{
	const struct profile_shape shape = {
		.types = cpu_types,
		.ntypes = 2,
		.period_type = { "cpu", "nanoseconds" },
		.period = 1000000000LL / o->freq,
	};
	struct capture_links links = { 0 };
	struct cpu_bpf *skel;
	int ret;

	skel = capture_load(open_and_load, s, o, &ret);
	if (!skel)
		return ret;
	ret = capture_begin(s, skel->obj, &links);
	if (!ret)
		ret = capture_attach_cpu_clock(skel->progs.on_cpu_sample, o->freq, o->kernel_only,
					       &links);
	if (!ret)
		ret = capture_run(s, &links);
	if (ret)
		goto cleanup;
	ret = capture_make_profile(s, &shape, bpf_map__fd(skel->maps.stacks), fill, skel, out);
cleanup:
	capture_detach(&links);
	cpu_bpf__destroy(skel);
	return ret;
}

/* The agent: the same programs, drained as they count. */
static int agent_start(struct session *s, const void *opts, struct agent_capture *c)
{
	const struct cpu_opts *o = opts;
	struct cpu_bpf *skel;
	int64_t *period = malloc(sizeof(*period));
	int ret;

	if (!period)
		return -ENOMEM;
	*period = 1000000000LL / o->freq;
	skel = capture_load(open_and_load, s, o, &ret);
	if (!skel) {
		free(period);
		return ret;
	}
	*c = (struct agent_capture){
		.skel = skel,
		.destroy = (void (*)(void *))cpu_bpf__destroy,
		.obj = skel->obj,
		.gen = &skel->bss->agg_gen,
		.counts_fd = bpf_map__fd(skel->maps.counts),
		.entry = count_entry,
		.entry_arg = period,
		.shape = {
			.types = cpu_types,
			.ntypes = 2,
			.period_type = { "cpu", "nanoseconds" },
			.period = 1000000000LL / o->freq,
		},
	};
	ret = capture_begin(s, skel->obj, &c->links);
	if (!ret)
		ret = capture_attach_cpu_clock(skel->progs.on_cpu_sample, o->freq, o->kernel_only,
					       &c->links);
	if (ret)
		agent_capture__free(c);
	return ret;
}

static const struct type_agent cpu_agent = {
	.name = "cpu",
	.go_name = "profile",
	.metric = "process_cpu",
	.rate_opt = "--freq",
	.start = agent_start,
};

/* --- the command line --- */

enum {
	OPT_USER_ONLY = 0x200,
	OPT_KERNEL_ONLY,
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
	struct type_args *a = state->input;
	struct cpu_opts *o = a->opts;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		o->freq = 99;
		o->user = true;
		o->kernel = true;
		break;
	case 'F':
		if (parse_long(arg, 1, 10000, &v))
			return opt_error("invalid frequency '%s': expected 1..10000 Hz", arg);
		o->freq = v;
		break;
	case OPT_USER_ONLY:
		o->kernel = false;
		break;
	case OPT_KERNEL_ONLY:
		o->user = false;
		o->kernel_only = true;
		break;
	case ARGP_KEY_END:
		if (!o->user && !o->kernel)
			return opt_error("--user-only and --kernel-only exclude each other");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

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
};

static int collect(struct session *s, const void *opts, struct profile **out)
{
	return collect_cpu(s, opts, out);
}

static const struct type_endpoint cpu_endpoints[] = {
	{ "profile",
	  { 0 },
	  { "hz", "--freq" },
	  "CPU profile: stacks sampled on the CPU during the window. hz=N samples per second "
	  "(default 99)." },
};

const struct profile_type cpu_type = {
	.name = "cpu",
	.summary = "sample on-CPU stacks (Go's CPU profile)",
	.output = "cpu.pb.gz",
	.view = {
		.noun = "samples",
		.idle = "did not run on a CPU during the capture",
		.sample_types = cpu_types,
		.nsample_types = ARRAY_SIZE(cpu_types),
		.sample_index = 1,
		.skip = REPORT_SKIP_NONE,
	},
	/*
	 * A launched command waits while its new mappings are read (session.h):
	 * its first samples, in code the loader has just mapped, keep their
	 * callers.  Stopped, it takes no samples, so its profile is unchanged.
	 */
	.stop_for_maps = true,
	.stacks = TYPE_STACKS_THREADS,
	.argp = &cpu_argp,
	.opts_size = sizeof(struct cpu_opts),
	.collect = collect,
	.endpoints = cpu_endpoints,
	.nendpoints = ARRAY_SIZE(cpu_endpoints),
	.agent = &cpu_agent,
};
