// SPDX-License-Identifier: Apache-2.0
/*
 * Burns CPU in two functions with a split given on the command line:
 * share_a gets A% of the iterations, share_b the rest, each iteration the
 * same instructions, so CPU time splits the same way.  For diffs: run it
 * 70 then 30 and the two functions move by 40 points each.
 *
 * usage: cpu_shares SECONDS A
 * Prints "ready <pid>" on stderr once running.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHUNK                                                                                      \
	200000UL /* iterations per share point: a round (~30 ms) spans several sampling periods */

static volatile unsigned long sink;

__attribute__((noinline)) static void keep(unsigned long x)
{
	sink = x;
}

/* A non-leaf (it calls keep()), so gcc gives it a frame and its caller is found. */
#define BURNER(name)                                                                               \
	__attribute__((noinline)) unsigned long name(unsigned long n, unsigned long x)             \
	{                                                                                          \
		for (unsigned long i = 0; i < n; i++)                                              \
			x = x * 6364136223846793005UL + 1442695040888963407UL;                     \
		keep(x);                                                                           \
		return x + 1;                                                                      \
	}

BURNER(share_a)
BURNER(share_b)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds, end;
	unsigned long x = 1;
	long a;

	if (argc != 3 || (seconds = atof(argv[1])) <= 0 || (a = atol(argv[2])) < 0 || a > 100) {
		fprintf(stderr, "usage: cpu_shares SECONDS A (A: percent in share_a, 0..100)\n");
		return 2;
	}
	fprintf(stderr, "ready %d\n", (int)getpid());
	end = now() + seconds;
	while (now() < end) {
		x = share_a(a * CHUNK, x);
		x = share_b((100 - a) * CHUNK, x);
	}
	return (int)(x & 0);
}
