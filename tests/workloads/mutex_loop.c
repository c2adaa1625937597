// SPDX-License-Identifier: Apache-2.0
/*
 * Lock/unlock loops for the mutex profile's benchmark.
 *
 * usage: mutex_loop THREADS N WORK SLEEP [DELAY]
 *   After sleeping DELAY seconds (default 0: time for a profiler to settle),
 *   THREADS threads each lock and unlock one shared pthread mutex N times,
 *   with as much work (a loop of WORK steps) inside the lock as outside,
 *   and, when SLEEP > 0, a sleep of SLEEP microseconds inside the lock: the
 *   lock is then passed around, every acquisition waiting for it.  With one thread the lock is never
 *   contended (no futex call at all); with several on fewer CPUs it is,
 *   often.  Prints "elapsed <seconds> contended <n>" on stdout: the time of
 *   the loops alone, and the acquisitions whose try-lock failed first; then
 *   sleeps DELAY seconds again before exiting (time to read a profiler's
 *   statistics while it still runs).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter;
static long iterations;
static int work_steps;
static long sleep_us;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A little work, the same inside the lock and out, so that threads meet at it. */
static void work(void)
{
	volatile int i;

	for (i = 0; i < work_steps; i++)
		;
}

static void *loop(void *arg)
{
	long *contended = arg, i;

	for (i = 0; i < iterations; i++) {
		if (pthread_mutex_trylock(&lock)) {
			(*contended)++;
			pthread_mutex_lock(&lock);
		}
		counter++;
		work();
		if (sleep_us) {
			struct timespec ts = { 0, sleep_us * 1000 };

			nanosleep(&ts, NULL);
		}
		pthread_mutex_unlock(&lock);
		work();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[64];
	long contended[64] = { 0 }, total = 0;
	double t0;
	int n, i;

	if (argc < 5 || argc > 6 || (n = atoi(argv[1])) < 1 || n > 64 ||
	    (iterations = atol(argv[2])) < 1 || (work_steps = atoi(argv[3])) < 0 ||
	    (sleep_us = atol(argv[4])) < 0 || sleep_us >= 1000000) {
		fprintf(stderr, "usage: %s THREADS N WORK SLEEP [DELAY]\n", argv[0]);
		return 2;
	}
	/* Sleeps as long as asked, not up to 50 us more. */
	prctl(PR_SET_TIMERSLACK, 1000UL);
	if (argc == 6)
		usleep(atof(argv[5]) * 1e6);
	t0 = now();
	if (n == 1) {
		loop(&contended[0]);
	} else {
		for (i = 0; i < n; i++)
			pthread_create(&t[i], NULL, loop, &contended[i]);
		for (i = 0; i < n; i++)
			pthread_join(t[i], NULL);
	}
	for (i = 0; i < n; i++)
		total += contended[i];
	printf("elapsed %.6f contended %ld\n", now() - t0, total);
	fflush(stdout);
	if (argc == 6)
		usleep(atof(argv[5]) * 1e6);
	return counter == (unsigned long)n * iterations ? 0 : 1;
}
