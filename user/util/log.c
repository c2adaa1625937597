// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>

#include "util/log.h"

int log_level = LOG_WARN;

void log_print(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	/* Errors always reach the user, even with -q. */
	if (level > log_level && level != LOG_WARN)
		return;
	va_start(ap, fmt);
	fputs("bpfprof: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
