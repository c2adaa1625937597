/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subcommands, and the options every profiling subcommand shares (targets,
 * duration, output, report), parsed by one argp child.
 */
#ifndef BPFPROF_CMD_H
#define BPFPROF_CMD_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>

#include "collect/collect.h"
#include "capture/target.h"

struct common_opts {
	struct target target;
	int ntarget_kinds; /* -p, -a, --cgroup, --: exactly one is allowed */
	int64_t duration_ns;
	const char *output;
	int top;
	bool quiet;
	int verbose;
};

/* Prints "bpfprof: MESSAGE" and exits with EXIT_USAGE: for bad option values. */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A -d value in nanoseconds (30, 1.5, 500ms); exits with a usage error when it is not one. */
int64_t duration_arg(const char *arg);

/* The shared options, target_argp's among them; its input is a struct common_opts. */
extern const struct argp common_argp;
/* -p, -a and --cgroup alone (serve has no command to launch); input: a struct common_opts. */
extern const struct argp target_argp;

/*
 * --no-tid, --children and unwind_argp's options, for the profile types
 * keyed by stack and thread: an argp child whose input is a struct
 * stack_args.
 */
struct stack_args {
	struct stack_opts opts;
	bool tid_set; /* --no-tid given */
};

extern const struct argp stack_argp;

/*
 * --unwind and --unwind-mem alone, for a profile type with stacks but no
 * per-sample threads to choose (threads): its input is a struct stack_opts,
 * of which it sets dwarf and unwind_mib.  A child of stack_argp too.
 */
extern const struct argp unwind_argp;

/*
 * Defaults that depend on the target: no tid label for a system or a cgroup
 * (too many threads), children followed for a launched command.
 */
void stack_args__resolve(struct stack_args *a, const struct common_opts *o);

/* Sets defaults; default_output is the profile type's file, e.g. "cpu.pb.gz". */
void common_opts__init(struct common_opts *o, const char *default_output);
/*
 * After parsing: one target kind, a writable output, privileges and BTF.
 * Prints the error; returns 0 or the exit code.
 */
int common_opts__check(struct common_opts *o, const char *cmd);

/*
 * The end of every capture: write the profile, print the top table and the
 * path.  Returns the exit code.
 */
struct profile;
struct session;
int cmd_finish(struct common_opts *o, struct session *s, struct profile *p, int sample_index);
/*
 * Writes p to -o's file, created when the command started; when that fails,
 * to $TMPDIR, and says where.  Returns the exit code.
 */
int cmd_write_profile(struct common_opts *o, const struct profile *p);

/*
 * A whole capture after parsing: prepares the target and the session, runs
 * collect(s, opts, &profile), then cmd_finish().  Returns the exit code.
 */
typedef int (*cmd_collect_fn)(struct session *s, const void *opts, struct profile **out);
int cmd_capture(struct common_opts *o, cmd_collect_fn collect, const void *opts, int sample_index);

int cmd_cpu(int argc, char **argv);
int cmd_offcpu(int argc, char **argv);
int cmd_threadcreate(int argc, char **argv);
int cmd_mutex(int argc, char **argv);
int cmd_heap(int argc, char **argv);
int cmd_threads(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
