/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A threads profile (one sample per thread, labels pid, tid, comm, process,
 * state, in_state) as text, like Go's goroutine?debug=2: per process a line,
 * then per thread a header "thread TID "comm" [state, 5 minutes]:" and its
 * frames innermost first, each "function\n\tfile:line".
 */
#ifndef BPFPROF_THREADS_TEXT_H
#define BPFPROF_THREADS_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct profile;

/* "45 ms", "3.2 seconds", "1 minute", "12 minutes": as the header shows a duration. */
void threads_text_duration(char *buf, size_t len, int64_t ns);

/* Writes every thread of p, ordered by pid and tid.  0 or -errno. */
int threads_text_write(FILE *out, const struct profile *p);

#endif
