// SPDX-License-Identifier: Apache-2.0
/*
 * A program with its own allocator linked in: it defines malloc, calloc,
 * realloc and free (a bump allocator over one big mapping; free forgets),
 * which the C library and everything else then call instead of glibc's.
 *
 * usage: heap_own_malloc [HOLD_SECONDS]
 *   keep_blocks: keeps 4096 blocks of 100 bytes; then prints
 *   "keep_blocks <bytes kept>", "ready <pid>" on stderr first, and exits.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA (256 << 20)

static char *arena, *top;

static size_t *block(void *p)
{
	return (size_t *)p - 1;
}

void *malloc(size_t n)
{
	char *p;

	if (!arena) {
		arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			     0);
		if (arena == MAP_FAILED)
			return NULL;
		top = arena;
	}
	n = (n + 15) & ~(size_t)15;
	if (top + n + 16 > arena + ARENA)
		return NULL;
	p = top + 16;
	*block(p) = n;
	top += n + 16;
	return p;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t n, size_t size)
{
	void *p = malloc(n * size);

	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = malloc(n);

	if (p && old)
		memcpy(p, old, *block(old) < n ? *block(old) : n);
	return p;
}

static void *volatile sink;

__attribute__((noinline)) void keep_blocks(int n)
{
	int i;

	for (i = 0; i < n; i++)
		sink = malloc(100);
}

int main(int argc, char **argv)
{
	fprintf(stderr, "ready %d\n", getpid());
	keep_blocks(4096);
	printf("keep_blocks %d\n", 4096 * 100);
	fflush(stdout);
	usleep(argc > 1 ? atof(argv[1]) * 1e6 : 100000); /* HOLD_SECONDS */
	return 0;
}
