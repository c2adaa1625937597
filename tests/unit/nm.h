/* SPDX-License-Identifier: Apache-2.0 */
/* Symbols of a test binary, from nm: where the tests check addresses against. */
#ifndef BPFPROF_TESTS_NM_H
#define BPFPROF_TESTS_NM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* The ELF address range [start, end) of the symbol name in file, from nm -S. */
static inline void nm_symbol_range(const char *file, const char *name, uint64_t *start,
				   uint64_t *end)
{
	char cmd[256], line[512], sym[256], type;
	unsigned long long addr, size;
	FILE *p;

	*start = *end = 0;
	snprintf(cmd, sizeof(cmd), "nm -S %s", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%llx %llx %c %255[^\n]", &addr, &size, &type, sym) == 4 &&
		    !strcmp(sym, name)) {
			*start = addr;
			*end = addr + size;
		}
	pclose(p);
	assert_true(*start != 0 && *end > *start);
}

#endif
