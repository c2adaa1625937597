// SPDX-License-Identifier: Apache-2.0
/*
 * Stacks without frame pointers (built -O2 -fomit-frame-pointer, like
 * Debian's glibc and most release code), for the unwinding tests.
 *
 * usage: nofp_chain SECONDS MODE
 *   chain          main -> run_chain -> chain1 .. chain8 -> hot_leaf
 *   qsort          main -> run_qsort -> qsort (libc) -> cmp_outer -> cmp_inner
 *   dlopen LIB     after 1 s: dlopen(LIB), then its lib_entry() -> ... in a loop
 *   vdso           main -> run_vdso -> clock_gettime (libc) -> the vdso
 * Prints "ready <pid>" on stderr once running.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

static volatile unsigned long sink;
static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE unsigned long hot_leaf(unsigned long x)
{
	for (int i = 0; i < 2000000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

/* Each link does work after its call, so no call is a tail call. */
#define LINK(name, next)                                                                           \
	NOINLINE unsigned long name(unsigned long x)                                               \
	{                                                                                          \
		unsigned long r = next(x + 1);                                                     \
		sink = r;                                                                          \
		return r ^ x;                                                                      \
	}

LINK(chain8, hot_leaf)
LINK(chain7, chain8)
LINK(chain6, chain7)
LINK(chain5, chain6)
LINK(chain4, chain5)
LINK(chain3, chain4)
LINK(chain2, chain3)
LINK(chain1, chain2)

NOINLINE static void run_chain(void)
{
	unsigned long x = 1;

	while (now() < deadline)
		x = chain1(x);
	sink = x;
}

NOINLINE int cmp_inner(long a, long b)
{
	unsigned long x = a;

	for (int i = 0; i < 200; i++)
		x = x * 6364136223846793005UL + 1;
	sink = x;
	return (a > b) - (a < b);
}

NOINLINE int cmp_outer(const void *a, const void *b)
{
	int r = cmp_inner(*(const long *)a, *(const long *)b);

	sink += r;
	return r;
}

NOINLINE static void run_qsort(void)
{
	enum { N = 20000 };
	static long v[N];

	while (now() < deadline) {
		for (int i = 0; i < N; i++)
			v[i] = (i * 7919L) % N;
		qsort(v, N, sizeof(v[0]), cmp_outer);
	}
}

NOINLINE static void run_vdso(void)
{
	/* now() reads the clock through the vdso: nearly all time is spent there. */
	while (now() < deadline)
		sink++;
}

NOINLINE static void run_dlopen(const char *lib)
{
	unsigned long (*entry)(unsigned long);
	unsigned long x = 1;
	void *h;

	sleep(1); /* the profiler is attached by now: the library is new to it */
	h = dlopen(lib, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "nofp_chain: %s\n", dlerror());
		exit(1);
	}
	entry = (unsigned long (*)(unsigned long))dlsym(h, "lib_entry");
	if (!entry) {
		fprintf(stderr, "nofp_chain: no lib_entry in %s\n", lib);
		exit(1);
	}
	while (now() < deadline)
		x = entry(x);
	sink = x;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: nofp_chain SECONDS chain|qsort|dlopen LIB\n");
		return 2;
	}
	deadline = now() + atof(argv[1]);
	fprintf(stderr, "ready %d\n", getpid());
	if (!strcmp(argv[2], "chain"))
		run_chain();
	else if (!strcmp(argv[2], "qsort"))
		run_qsort();
	else if (!strcmp(argv[2], "vdso"))
		run_vdso();
	else if (!strcmp(argv[2], "dlopen") && argc > 3)
		run_dlopen(argv[3]);
	else
		return 2;
	return (int)(sink & 0);
}
