/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation failure injection for unit tests.  The test binary's malloc
 * family replaces libc's (glibc supports replacing malloc this way, and
 * valgrind still sees the __libc_* calls), so code under test can be made
 * to meet an out-of-memory at every allocation in turn.
 * Include from one test file only: it defines malloc().
 *
 * valgrind replaces a program's own malloc too unless run with
 * --soname-synonyms=somalloc=nouserintercepts; failmalloc_active() tells.
 */
#ifndef BPFPROF_TESTS_FAILMALLOC_H
#define BPFPROF_TESTS_FAILMALLOC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);

static long failmalloc_countdown = -1; /* disarmed */
static bool failmalloc_fired;

/* The nth allocation from now (0 = the next one) fails, only that one. */
static inline void failmalloc_arm(long n)
{
	failmalloc_fired = false;
	failmalloc_countdown = n;
}

/* Disarms; did the armed failure happen? */
static inline bool failmalloc_disarm(void)
{
	failmalloc_countdown = -1;
	return failmalloc_fired;
}

static bool failmalloc_now(void)
{
	if (failmalloc_countdown < 0 || failmalloc_countdown-- > 0)
		return false;
	failmalloc_fired = true;
	errno = ENOMEM;
	return true;
}

void *malloc(size_t size)
{
	return failmalloc_now() ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	return failmalloc_now() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *ptr, size_t size)
{
	return failmalloc_now() ? NULL : __libc_realloc(ptr, size);
}

void free(void *ptr)
{
	__libc_free(ptr);
}

/* Is injection in effect (not bypassed by valgrind)? */
static inline bool failmalloc_active(void)
{
	void *(*volatile alloc)(size_t) = malloc; /* not optimized away */
	void *p;

	failmalloc_arm(0);
	p = alloc(1);
	failmalloc_disarm();
	__libc_free(p);
	return !p;
}

#endif
