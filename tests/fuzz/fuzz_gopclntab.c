// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for Go's .gopclntab reader: the table comes from the
 * binaries of the processes bpfprof profiles, as root, so a crafted one must
 * not crash it.  Input: the section's bytes.  `make fuzz` seeds it with
 * goburn's table.
 */
#include <stdint.h>
#include <stdlib.h>

#include "elf/gopclntab.h"

#define TEXT 0x401000

static void range(void *ctx, uint64_t fn_start, uint64_t fn_end, uint64_t start, uint64_t end,
		  int32_t delta)
{
	*(uint64_t *)ctx += (end - start) + (uint64_t)delta + fn_end - fn_start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gopclntab *t = gopclntab__from_data(data, size, TEXT);
	struct gopclntab_pos pos;
	uint64_t sum = 0, pc;

	if (!t)
		return 0;
	for (pc = TEXT - 16; pc < TEXT + 4096; pc += 13)
		gopclntab__lookup(t, pc, &pos);
	gopclntab__sp_ranges(t, range, &sum);
	gopclntab__free(t);
	return sum == 42; /* keeps the loop's work */
}
