/* SPDX-License-Identifier: Apache-2.0 */
/* Exit codes, documented in --help and the README. */
#ifndef BPFPROF_EXITCODE_H
#define BPFPROF_EXITCODE_H

enum {
	EXIT_OK = 0,	    /* the profile was written */
	EXIT_FAIL = 1,	    /* profiling failed (BPF load/attach, I/O, ...) */
	EXIT_USAGE = 2,	    /* bad command line */
	EXIT_TARGET = 3,    /* no such pid, cgroup or command */
	EXIT_SYSTEM = 4,    /* not privileged enough, or the kernel lacks a feature */
	EXIT_ABORTED = 130, /* a second Ctrl-C: stopped without writing */
};

#define EXIT_CODES_HELP                                                                            \
	"Exit codes: 0 profile written; 1 profiling failed; 2 bad command line; "                  \
	"3 no such pid, cgroup or command; 4 not privileged or kernel lacks a feature; "           \
	"130 aborted by a second Ctrl-C."

#endif
