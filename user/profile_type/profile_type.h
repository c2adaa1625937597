/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a profile type is, in one place: its command, default output file,
 * the words of its summary line, its sample types and the one the top table
 * shows, which frames that table skips, its options and its collector.
 * Each type defines its descriptor next to its collector (collect/TYPE.c);
 * profile_types[] (profile_type/table.c) lists them for the command line
 * (main.c, cmd/common.c) and serve (serve/route.c).
 *
 * The options every capture shares (targets, -d, -o, --top, stacks) are
 * parsed here once (profile_type/options.c), as argp children each type's
 * own options join.
 */
#ifndef BPFPROF_PROFILE_TYPE_H
#define BPFPROF_PROFILE_TYPE_H

#include <argp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "capture/target.h"
#include "report/report.h"

struct profile;
struct session;

/* --- the shared options (profile_type/options.c) --- */

struct common_opts {
	struct target target;
	int ntarget_kinds; /* -p, -a, --cgroup, --: exactly one is allowed */
	int64_t duration_ns;
	const char *output;
	const char *html; /* --html: the flame graph page, written beside the profile */
	int top;
	bool quiet;
	int verbose;
};

/*
 * --no-tid, --children and unwind_argp's options, for the profile types
 * keyed by stack and thread.
 */
struct stack_args {
	struct stack_opts opts;
	bool tid_set; /* --no-tid given */
};

/*
 * Prints "bpfprof: MESSAGE" for a bad option value and returns EINVAL: an
 * argp parser returns it, and argp_parse fails with it.
 */
int opt_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A -d value (30, 1.5, 500ms) into *ns; 0, or EINVAL after opt_error(). */
int opt_duration(const char *arg, int64_t *ns);

/* The shared options, target_argp's among them; input: a struct common_opts. */
extern const struct argp common_argp;
/* -p, -a and --cgroup alone (serve has no command to launch); input: a struct common_opts. */
extern const struct argp target_argp;
/* --no-tid, --children and unwind_argp's options; input: a struct stack_args. */
extern const struct argp stack_argp;
/*
 * --unwind and --unwind-mem alone, for a type with stacks but no
 * per-sample threads to choose; input: a struct stack_opts, of which it
 * sets dwarf and unwind_mib.  A child of stack_argp too.
 */
extern const struct argp unwind_argp;

/* Sets defaults; default_output is the profile type's file, e.g. "cpu.pb.gz". */
void common_opts__init(struct common_opts *o, const char *default_output);

/*
 * Defaults that depend on the target: no tid label for a system or a cgroup
 * (too many threads), children followed for a launched command.
 */
void stack_args__resolve(struct stack_args *a, const struct common_opts *o);

/* --- the descriptor --- */

/* What a capture of a type looks like to the user. */
struct type_view {
	const char *noun; /* its events in the summary line and progress: "samples" */
	const char *idle; /* why there may be none: "did not run on a CPU during the capture" */
	const struct value_type_desc *sample_types;
	int nsample_types;
	int sample_index;      /* the sample type the top table shows */
	enum report_skip skip; /* frames the top table passes over */
};

/* Which shared stack options a type takes. */
enum type_stacks {
	TYPE_STACKS_THREADS, /* stack_argp: --no-tid, --children, --unwind, --unwind-mem */
	TYPE_STACKS_UNWIND,  /* unwind_argp alone: --unwind, --unwind-mem */
};

/* A /debug/pprof/ endpoint that serve answers with a capture of the type. */
struct type_endpoint {
	const char *name;     /* Go's profile name: "profile", "block", ... */
	const char *fixed[2]; /* options always given */
	struct {
		const char *param;  /* a query parameter handed on ... */
		const char *option; /* ... as --OPTION=VALUE */
	} pass;
	const char *desc; /* a line of the index page */
};

/* One parse of a type's command line: the shared options and the type's own. */
struct type_args {
	const struct profile_type *type;
	struct common_opts common;
	struct stack_args stack; /* TYPE_STACKS_THREADS */
	/*
	 * The type's options (its collector's), type->opts_size bytes starting
	 * with a struct stack_opts: the driver copies stack.opts there, or
	 * unwind_argp fills it.
	 */
	void *opts;
};

/*
 * A profile type running in the agent (cmd/agent.c, agent/): loaded and
 * attached once for the whole capture, its aggregation map drained by
 * generation (aggregate.bpf.h's agg_gen) while it keeps counting.
 */
struct agent_capture {
	void *skel;
	void (*destroy)(void *skel);
	struct bpf_object *obj;
	volatile __u32 *gen; /* the object's agg_gen */
	int counts_fd;	     /* the aggregation map: keys start with a struct stack_key */
	/* Turns an entry into values and labels; entry_arg is freed with the capture. */
	capture_entry_fn entry;
	void *entry_arg;
	struct profile_shape shape;
	const char *default_type; /* the profile's default sample type; NULL: the first */
	/* Kernel frames to trim, as the type's own profile does (sample_sink). */
	bool trim_tracing;
	uint64_t trim_lo, trim_hi;
	struct capture_links links;
};

struct type_agent {
	const char *name;    /* in --types: "cpu", "offcpu", "mutex", "growth" */
	const char *go_name; /* its /debug/pprof/ endpoint: "profile", "block", ... */
	const char *metric;  /* Pyroscope's __name__: "process_cpu", "block", ... */
	bool cumulative;     /* Go's profile is cumulative since the start (block, mutex, allocs) */
	const char *args[8]; /* the type's options in the agent (after "-a"), NULL-ended */
	const char *rate_opt; /* the option the agent's --hz sets, or NULL */
	/*
	 * Loads and attaches on s (capture_begin: the first type sets up the
	 * session, the later ones share its maps).  0, or -errno after saying
	 * why; c is then empty.
	 */
	int (*start)(struct session *s, const void *opts, struct agent_capture *c);
};

/* Detaches and frees what start made. */
void agent_capture__free(struct agent_capture *c);

struct profile_type {
	const char *name;    /* the command: "cpu" */
	const char *summary; /* its line in 'bpfprof --help' */
	const char *output;  /* the default output file */
	struct type_view view;
	/* The view for these options, where they change it (heap); NULL: view. */
	const struct type_view *(*view_of)(const void *opts);
	/*
	 * A launched command stops where a stack runs through a mapping not
	 * read yet (session.h, stop_for_maps).
	 */
	bool stop_for_maps;
	bool snapshot; /* an instant, not a window: no -d, no -- CMD */
	enum type_stacks stacks;
	/*
	 * The type's own options and --help text: the driver adds the shared
	 * ones as children.  Its input is the struct type_args.
	 */
	const struct argp *argp;
	size_t opts_size;
	/* After parsing and the shared checks, e.g. final defaults: 0 or -errno. */
	int (*setup)(struct type_args *a);
	/* The capture: 0 and a profile, or -errno after printing why. */
	int (*collect)(struct session *s, const void *opts, struct profile **out);
	/*
	 * Writes p and tells the user; NULL: the shared end (cmd/common.c).
	 * 0 or -errno after printing why.
	 */
	int (*finish)(struct type_args *a, struct session *s, struct profile *p);
	const struct type_endpoint *endpoints;
	int nendpoints;
	const struct type_agent *agent; /* NULL: not in the agent */
};

/* Every profile type, in 'bpfprof --help' order (table.c). */
extern const struct profile_type *const profile_types[];
extern const size_t nprofile_types;

const struct profile_type *profile_type__find(const char *name);
/* The view of a capture with these options. */
const struct type_view *profile_type__view(const struct profile_type *t, const void *opts);

#endif
