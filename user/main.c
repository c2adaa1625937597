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

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "cpu", cmd_cpu, "sample on-CPU stacks (Go's CPU profile)" },
	{ "offcpu", cmd_offcpu, "time off the CPU per stack and state (Go's block profile)" },
	{ "threadcreate", cmd_threadcreate, "stacks that create threads (Go's threadcreate)" },
	{ "mutex", cmd_mutex, "contended locks: who waited, or who held (Go's mutex profile)" },
	{ "heap", cmd_heap, "live and allocated memory by stack (Go's heap profile)" },
	{ "threads", cmd_threads, "every thread's state and stack, now (Go's goroutine profile)" },
	{ "report", cmd_report, "print the top table of a profile file" },
	{ "serve", cmd_serve, "Go's /debug/pprof/ HTTP endpoints for any process" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: bpfprof COMMAND [OPTIONS]\n\n"
		     "pprof profiles of any running Linux process, with eBPF: no restart, no code "
		     "change.\n\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'bpfprof COMMAND --help' shows a command's options.\n%s\n",
		EXIT_CODES_HELP);
}

int main(int argc, char **argv)
{
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
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			/* argp names the program after argv[0]: "bpfprof cpu". */
			char name[64];

			snprintf(name, sizeof(name), "bpfprof %s", commands[i].name);
			argv[1] = name;
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	pr_warn("unknown command '%s' (see 'bpfprof --help')\n", argv[1]);
	return EXIT_USAGE;
}
