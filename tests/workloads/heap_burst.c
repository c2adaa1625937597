// SPDX-License-Identifier: Apache-2.0
/*
 * A process quiet when a profiler attaches that then allocates hard, as a
 * server whose traffic returns: for the heap profile's overhead guard.
 *
 * usage: heap_burst [SECONDS]
 *   Prints "ready <pid>" on stdout, makes no allocator call until SIGUSR1,
 *   then prints "allocating" and runs malloc/free pairs of 16..4111 bytes
 *   (burst_alloc) for SECONDS (default 60) and exits.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void burst_alloc(unsigned long n)
{
	unsigned long i;
	char *p;

	for (i = 0; i < n; i++) {
		p = malloc(16 + (i * 2654435761UL) % 4096);
		if (!p) {
			perror("malloc");
			exit(1);
		}
		p[0] = 1;
		sink = p;
		free(p);
	}
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 60, end;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready %d\n", getpid());
	fflush(stdout);
	if (sigwait(&set, &sig))
		return 1;
	printf("allocating\n");
	fflush(stdout);
	end = now_s() + seconds;
	while (now_s() < end)
		burst_alloc(1000);
	return 0;
}
