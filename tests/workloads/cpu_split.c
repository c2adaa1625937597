// SPDX-License-Identifier: Apache-2.0
/*
 * Burns CPU in three functions with a known split: burn_a 50%, burn_b 30%,
 * burn_c 20% of the iterations, each iteration the same instructions, so the
 * CPU time splits the same way.
 *
 * usage: cpu_split [SECONDS [THREADS [A:B:C]]]   (SECONDS 0 = until killed)
 * A:B:C sets other shares, as points of a round of A+B+C points, each
 * CHUNK iterations (default 50:30:20).  A round of 100 points lasts about
 * 30 ms, several sampling periods: shorter rounds (5:3:2 was 3 ms) beat
 * with a 10 ms timer and skew the split.
 * Prints "ready <pid>" on stderr once running.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 200000UL /* iterations per share point */

static volatile unsigned long sink;

__attribute__((noinline)) static void keep(unsigned long x)
{
	sink = x;
}

/*
 * The call to keep() makes each burner a non-leaf, so gcc gives it a frame
 * and a frame-pointer walk finds its caller (gcc omits frames in leaves).
 */
#define BURNER(name)                                                                               \
	__attribute__((noinline)) unsigned long name(unsigned long n, unsigned long x)             \
	{                                                                                          \
		for (unsigned long i = 0; i < n; i++)                                              \
			x = x * 6364136223846793005UL + 1442695040888963407UL;                     \
		keep(x);                                                                           \
		return x + 1;                                                                      \
	}

BURNER(burn_a)
BURNER(burn_b)
BURNER(burn_c)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double seconds;
static unsigned long share_a = 50, share_b = 30, share_c = 20;

static void *worker(void *arg)
{
	double end = now() + seconds;
	unsigned long x = (unsigned long)arg;

	while (seconds == 0 || now() < end) {
		x = burn_a(share_a * CHUNK, x);
		x = burn_b(share_b * CHUNK, x);
		x = burn_c(share_c * CHUNK, x);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	pthread_t tids[64];
	char name[16];
	int i;

	seconds = argc > 1 ? atof(argv[1]) : 0;
	if (threads < 1 || threads > 64) {
		fprintf(stderr, "cpu_split: THREADS must be 1..64\n");
		return 2;
	}
	if (argc > 3 && (sscanf(argv[3], "%lu:%lu:%lu", &share_a, &share_b, &share_c) != 3 ||
			 share_a + share_b + share_c == 0 || share_a + share_b + share_c > 100)) {
		fprintf(stderr, "cpu_split: shares must be A:B:C, 1..100 in all\n");
		return 2;
	}
	fprintf(stderr, "ready %d\n", getpid());
	for (i = 1; i < threads; i++) {
		pthread_create(&tids[i], NULL, worker, (void *)(unsigned long)i);
		snprintf(name, sizeof(name), "burner-%d", i);
		pthread_setname_np(tids[i], name);
	}
	worker(0);
	for (i = 1; i < threads; i++)
		pthread_join(tids[i], NULL);
	return 0;
}
