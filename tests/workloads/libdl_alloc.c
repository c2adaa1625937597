// SPDX-License-Identifier: Apache-2.0
/* A library dlopen_alloc loads again and again: it allocates from its own code. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *lib_alloc(size_t n)
{
	void *p = malloc(n);

	if (p)
		memset(p, 1, n);
	return p;
}
