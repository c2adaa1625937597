// SPDX-License-Identifier: Apache-2.0
/*
 * A library dlopen_now loads once: its constructor allocates
 * LIB_CTOR_BLOCKS blocks of LIB_CTOR_SIZE bytes (lib_ctor_alloc) and
 * lib_keep(n, size) n blocks of size bytes, all kept: a heap profile must
 * attribute exactly those bytes to those functions.
 */
#include <stdlib.h>
#include <string.h>

#define LIB_CTOR_BLOCKS 3
#define LIB_CTOR_SIZE 40000

static void *volatile kept[4096];
static int nkept;

__attribute__((noinline)) void *lib_keep(long n, long size)
{
	void *p = NULL;
	long i;

	for (i = 0; i < n && nkept < 4096; i++) {
		p = malloc(size);
		if (p)
			memset(p, 1, size);
		kept[nkept++] = p;
	}
	return p;
}

__attribute__((noinline)) void lib_ctor_alloc(void)
{
	int i;

	for (i = 0; i < LIB_CTOR_BLOCKS && nkept < 4096; i++) {
		kept[nkept] = malloc(LIB_CTOR_SIZE);
		if (kept[nkept])
			memset(kept[nkept], 2, LIB_CTOR_SIZE);
		nkept++;
	}
}

long lib_ctor_bytes(void)
{
	return (long)LIB_CTOR_BLOCKS * LIB_CTOR_SIZE;
}

__attribute__((constructor)) static void lib_init(void)
{
	lib_ctor_alloc();
}
