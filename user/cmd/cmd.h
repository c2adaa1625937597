/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line: one driver for every profile type (cmd/common.c, from
 * its descriptor, profile_type/), report and serve, and the one place that
 * turns -errno into exit codes.
 */
#ifndef BPFPROF_CMD_H
#define BPFPROF_CMD_H

#include "profile_type/profile_type.h"

/*
 * The exit code (util/exitcode.h) for 0 or a -errno returned below cmd/:
 * bpfprof's own classes (util/errors.h) keep theirs, the rest is a failure.
 */
int cmd_exit_code(int err);

/*
 * Parses a profile type's command line (argv[0] is the program's name) into
 * a, whose type and opts (type->opts_size bytes, zeroed) the caller set;
 * flags are argp_parse()'s, besides ARGP_IN_ORDER.  Bad values are printed.
 * Returns 0 or -BPFPROF_EUSAGE.
 */
int cmd_parse_type(struct type_args *a, int argc, char **argv, unsigned int flags);

/*
 * Parses a profile type's command line, checks it, captures and writes the
 * profile.  Returns the exit code.
 */
int cmd_run_type(const struct profile_type *t, int argc, char **argv);

int cmd_report(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#endif
