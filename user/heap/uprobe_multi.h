/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uprobe_multi links through the raw bpf(BPF_LINK_CREATE) syscall: Debian's
 * libbpf 1.1 has no wrapper for them, and none for session uprobes.
 */
#ifndef BPFPROF_UPROBE_MULTI_H
#define BPFPROF_UPROBE_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The attach types, by their kernel (uapi) numbers. */
#define UPROBE_ATTACH_MULTI 48	 /* BPF_TRACE_UPROBE_MULTI */
#define UPROBE_ATTACH_SESSION 57 /* BPF_TRACE_UPROBE_SESSION */

enum uprobe_support {
	UPROBE_NO_MULTI = 0, /* before Linux 6.6 */
	UPROBE_MULTI_ONLY,   /* uprobe_multi, no sessions (6.6 .. 6.12) */
	UPROBE_SESSION,	     /* session uprobes too (6.13 and later) */
};

/* What the running kernel offers, from its BTF. */
enum uprobe_support uprobe_multi_support(void);

/*
 * Attaches prog_fd (loaded with the matching expected attach type) at the
 * file offsets of path, each with its cookie, in process pid only (0: every
 * process).  ret: uretprobes (attach type UPROBE_ATTACH_MULTI only).
 * Returns the link fd, or -errno.
 */
int uprobe_multi_attach(int prog_fd, unsigned attach_type, const char *path,
			const uint64_t *offsets, const uint64_t *cookies, size_t n, int pid,
			bool ret);

#endif
