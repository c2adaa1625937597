// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what `bpfprof report` does with a file it is given:
 * gunzip, decode profile.proto, print the top tables.  Any crash, leak or
 * undefined behaviour (ASan, UBSan) is a bug: a bad file must give a
 * one-line error.  So is a peak of memory past libFuzzer's -rss_limit_mb:
 * the input is read in a memory limit well under it, as report does in
 * --max-mem.  `make fuzz` builds and runs it; the corpus starts from the
 * profiles the build makes and the bombs of mkbombs.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "profile/pprof.h"
#include "profile/profile.h"
#include "report/report.h"

/* Far under make fuzz's -rss_limit_mb=512 (ASan adds its own), and fast runs. */
#define FUZZ_MAX_MEM ((size_t)32 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile *p = NULL;
	FILE *null;
	int si;

	if (!pprof_decode_input(data, size, FUZZ_MAX_MEM, &p)) {
		null = fopen("/dev/null", "w");
		si = report_default_index(p);
		if (null) {
			report_top(null, p, si, 10, REPORT_SKIP_NONE);
			report_top(null, p, si, 10, REPORT_SKIP_KERNEL);
			report_top(null, p, si, 10, REPORT_SKIP_KERNEL_LIBC);
			report_top(null, p, si, 10, REPORT_SKIP_ALLOCATOR);
			fclose(null);
		}
		profile__free(p);
	}
	return 0;
}
