// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what `bpfprof report` does with a file it is given:
 * gunzip, decode profile.proto, print the top tables.  Any crash, leak or
 * undefined behaviour (ASan, UBSan) is a bug: a bad file must give a
 * one-line error.  `make fuzz` builds and runs it; the corpus starts from
 * the profiles the build makes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "profile/pprof.h"
#include "profile/profile.h"
#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile *p = NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	FILE *null;
	int si;

	if (pprof_gunzip(data, size, &raw, &len))
		return 0;
	if (!pprof_decode(raw, len, &p)) {
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
	free(raw);
	return 0;
}
