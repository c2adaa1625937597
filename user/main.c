// SPDX-License-Identifier: Apache-2.0
/* bpfprof: pprof profiles of any running Linux process, with eBPF. */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "util/exitcode.h"
#include "util/log.h"

#define BPFPROF_VERSION "0.1.0"

/* The commands that are not a profile type's. */
static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "report", cmd_report, "print the top table of a profile file" },
	{ "serve", cmd_serve, "Go's /debug/pprof/ HTTP endpoints for any process" },
	{ "agent", cmd_agent,
	  "profile the whole host continuously, ship every service's profiles" },
};

/* argp names the program after argv[0]: "bpfprof cpu". */
static void name_command(char **argv, char *name, size_t len)
{
	snprintf(name, len, "bpfprof %s", argv[1]);
	argv[1] = name;
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: bpfprof COMMAND [OPTIONS]\n\n"
		     "pprof profiles of any running Linux process, with eBPF: no restart, no code "
		     "change.\n\nCommands:\n");
	for (i = 0; i < nprofile_types; i++)
		fprintf(out, "  %-12s %s\n", profile_types[i]->name, profile_types[i]->summary);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'bpfprof COMMAND --help' shows a command's options.\n%s\n",
		EXIT_CODES_HELP);
}

int main(int argc, char **argv)
{
	const struct profile_type *t;
	char name[64];
	size_t i;

	/*
	 * libdw would fetch missing debug files over the network when this is
	 * set: a profiler must not stall on that in the middle of an incident.
	 */
	unsetenv("DEBUGINFOD_URLS");
	/* argp's own errors (unknown option, ...) exit like ours. */
	argp_err_exit_status = EXIT_USAGE;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("bpfprof %s\n", BPFPROF_VERSION);
		return EXIT_OK;
	}
	t = profile_type__find(argv[1]);
	if (t) {
		name_command(argv, name, sizeof(name));
		return cmd_run_type(t, argc - 1, argv + 1);
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			name_command(argv, name, sizeof(name));
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	pr_warn("unknown command '%s' (see 'bpfprof --help')\n", argv[1]);
	return EXIT_USAGE;
}
