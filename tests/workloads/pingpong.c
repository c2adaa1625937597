// SPDX-License-Identifier: Apache-2.0
/*
 * Two threads pass a byte back and forth through two pipes, ROUNDS times:
 * every pass blocks one thread and wakes the other, so the run is almost
 * nothing but context switches.  For the off-CPU overhead benchmark.
 *
 * usage: pingpong ROUNDS    prints "elapsed <seconds> switches/s <rate>"
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int ping[2], pong[2];
static long rounds;

__attribute__((noinline)) static void pass(int in, int out)
{
	char c;

	if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1)
		exit(3);
}

static void *ponger(void *arg)
{
	for (long r = 0; r < rounds; r++)
		pass(ping[0], pong[1]);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void read_switches(long *out)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");

	*out = 0;
	while (f && fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			*out += v;
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	long s0, s1;
	pthread_t t;
	double start, el;
	char c = 'x';

	rounds = argc > 1 ? atol(argv[1]) : 100000;
	if (rounds < 1 || pipe(ping) || pipe(pong)) {
		fprintf(stderr, "usage: pingpong ROUNDS\n");
		return 2;
	}
	if (pthread_create(&t, NULL, ponger, NULL))
		return 3;
	read_switches(&s0);
	start = now();
	for (long r = 0; r < rounds; r++) {
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			return 3;
	}
	el = now() - start;
	read_switches(&s1);
	pthread_join(t, NULL);
	/* Both threads block once a round; the main thread's count doubles for both. */
	printf("elapsed %.4f switches/s %.0f\n", el, 2.0 * (s1 - s0) / el);
	return 0;
}
