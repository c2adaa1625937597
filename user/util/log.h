/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostics on stderr, prefixed "bpfprof: ". */
#ifndef BPFPROF_LOG_H
#define BPFPROF_LOG_H

enum log_level { LOG_QUIET = -1, LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

extern int log_level; /* LOG_WARN by default; -q lowers it, -v raises it */

void log_print(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(...) log_print(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_print(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_print(LOG_DEBUG, __VA_ARGS__)

#endif
