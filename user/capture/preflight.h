/* SPDX-License-Identifier: Apache-2.0 */
/* Can this process use BPF here?  Checked before anything is loaded. */
#ifndef BPFPROF_PREFLIGHT_H
#define BPFPROF_PREFLIGHT_H

#include <stdbool.h>

/* 0, or prints why not in one line and returns -BPFPROF_ESYSTEM. */
int preflight_check(void);

/*
 * Whether the pid namespace NS_PATH names (a /proc/PID/ns/pid or
 * pid_for_children link) is the host's, the kernel's initial one.
 * 0 with *host set, or -errno when NS_PATH cannot be read.
 */
int preflight_pidns_is_host(const char *ns_path, bool *host);

#endif
