/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error convention: below cmd/ every function returns 0 or -errno, and
 * cmd_exit_code() (cmd/common.c) alone turns that into an exit code.  These
 * few classes, beyond errno's, carry what an exit code must tell apart; a
 * function that returns one has printed why already.
 */
#ifndef BPFPROF_ERRORS_H
#define BPFPROF_ERRORS_H

#include <string.h>

enum {
	BPFPROF_ERR_BASE = 4000,	   /* above every errno value */
	BPFPROF_EUSAGE = BPFPROF_ERR_BASE, /* a bad command line or option value */
	BPFPROF_ETARGET,		   /* no such pid, cgroup or command */
	BPFPROF_ESYSTEM, /* not privileged enough, or the kernel lacks a feature */
	BPFPROF_ERR_MAX,
};

/* strerror() for -err, with words for bpfprof's own classes. */
static inline const char *bpfprof_strerror(int err)
{
	switch (-err) {
	case BPFPROF_EUSAGE:
		return "invalid usage";
	case BPFPROF_ETARGET:
		return "no such target";
	case BPFPROF_ESYSTEM:
		return "not privileged, or the kernel lacks a feature";
	}
	return strerror(-err);
}

#endif
