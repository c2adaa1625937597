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

#include "target.h"

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

/* The shared options; its input is a struct common_opts. */
extern const struct argp common_argp;

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

int cmd_cpu(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
