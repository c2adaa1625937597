/* SPDX-License-Identifier: Apache-2.0 */
/* Can this process use BPF here?  Checked before anything is loaded. */
#ifndef BPFPROF_PREFLIGHT_H
#define BPFPROF_PREFLIGHT_H

/* 0, or prints why not in one line and returns -BPFPROF_ESYSTEM. */
int preflight_check(void);

#endif
