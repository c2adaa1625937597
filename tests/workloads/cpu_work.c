// SPDX-License-Identifier: Apache-2.0
/*
 * A fixed amount of CPU work on N threads, for overhead benchmarks: prints
 * the wall time it took, so runs with and without a profiler compare, and
 * the CPU time its threads were charged.  The CPU time includes interrupts
 * taken while they ran (a sampling profiler's programs) but not time the
 * hypervisor gave to other guests (steal), so it is the steadier measure on
 * a virtual machine; the wall time also counts the profiler's own process.
 *
 * usage: cpu_work ROUNDS [THREADS]    prints "elapsed <seconds> cpu <seconds>"
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;
static long rounds;

__attribute__((noinline)) static unsigned long work_inner(unsigned long x)
{
	for (int i = 0; i < 100000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x + 1;
}

__attribute__((noinline)) static unsigned long work_outer(unsigned long x)
{
	for (int i = 0; i < 10; i++)
		x = work_inner(x);
	return x + 1;
}

static void *worker(void *arg)
{
	unsigned long x = (unsigned long)arg;

	for (long r = 0; r < rounds; r++)
		x = work_outer(x);
	sink = x;
	return NULL;
}

static double now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	pthread_t tids[64];
	double start;
	int i;

	rounds = argc > 1 ? atol(argv[1]) : 1000;
	if (threads < 1 || threads > 64 || rounds < 1) {
		fprintf(stderr, "usage: cpu_work ROUNDS [THREADS 1..64]\n");
		return 2;
	}
	start = now(CLOCK_MONOTONIC);
	for (i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, worker, (void *)(unsigned long)i);
	for (i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	printf("elapsed %.6f cpu %.6f\n", now(CLOCK_MONOTONIC) - start,
	       now(CLOCK_PROCESS_CPUTIME_ID));
	return 0;
}
