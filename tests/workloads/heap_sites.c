// SPDX-License-Identifier: Apache-2.0
/*
 * Allocations from known functions, for the heap profile's tests and
 * benchmark.
 *
 * usage: heap_sites sites SCALE [HOLD_SECONDS]
 *   (each function below also keeps the array of its block pointers)
 *   keep_small: keeps SCALE * 16384 blocks of 64 bytes;
 *   keep_large: keeps SCALE * 4 blocks of 1 MiB (glibc mmaps them);
 *   churn: allocates SCALE * 16384 blocks of 4 KiB and frees each at once;
 *   realloc_grow: keeps SCALE * 64 blocks grown by realloc from 1 KiB to 16 KiB
 *       (the final 16 KiB block is what stays);
 *   calloc_keep: keeps SCALE * 1024 blocks of calloc(16, 64).
 *   Then prints "<function> <bytes kept> <bytes allocated>" lines, holds the
 *   memory HOLD_SECONDS (default 0.3) and exits without freeing it.
 * usage: heap_sites storm SECONDS
 *   malloc/free pairs of 32 bytes in a loop (malloc_storm) for SECONDS.
 * usage: heap_sites loop PAIRS
 *   PAIRS malloc/free pairs of 32 bytes (pair_loop), then prints
 *   "ns_per_pair <ns>"; for the benchmark ($HEAP_SITES_GO as for sites).
 *
 * "ready <pid>" is printed on stderr once running.  With "sites", the
 * allocations start when the file named by $HEAP_SITES_GO exists, if set
 * (so a profiler can attach with -p first), else at once.
 */
#define _GNU_SOURCE
#include <stdint.h>
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

static void *must(void *p)
{
	if (!p) {
		perror("malloc");
		exit(1);
	}
	/* Touch it, as a program would. */
	memset(p, 1, 64);
	return p;
}

__attribute__((noinline)) void **keep_small(long n)
{
	void **v = must(malloc(n * sizeof(void *)));
	long i;

	for (i = 0; i < n; i++)
		v[i] = must(malloc(64));
	return v;
}

__attribute__((noinline)) void **keep_large(long n)
{
	void **v = calloc(n, sizeof(void *));
	long i;

	for (i = 0; i < n; i++)
		v[i] = must(malloc(1 << 20));
	return v;
}

__attribute__((noinline)) void churn(long n)
{
	long i;

	for (i = 0; i < n; i++) {
		sink = must(malloc(4096));
		free(sink);
	}
}

__attribute__((noinline)) void **realloc_grow(long n)
{
	void **v = calloc(n, sizeof(void *));
	long i;
	size_t sz;

	for (i = 0; i < n; i++)
		for (sz = 1024; sz <= 16384; sz *= 2)
			v[i] = must(realloc(v[i], sz));
	return v;
}

__attribute__((noinline)) void **calloc_keep(long n)
{
	void **v = calloc(n, sizeof(void *));
	long i;

	for (i = 0; i < n; i++)
		v[i] = must(calloc(16, 64));
	return v;
}

__attribute__((noinline)) void malloc_storm(double seconds)
{
	double end = now_s() + seconds;
	long i;

	while (now_s() < end)
		for (i = 0; i < 10000; i++) {
			sink = malloc(32);
			free(sink);
		}
}

__attribute__((noinline)) void pair_loop(long pairs)
{
	long i;

	for (i = 0; i < pairs; i++) {
		sink = malloc(32);
		free(sink);
	}
}

static void sites(long scale, double hold)
{
	const char *go = getenv("HEAP_SITES_GO");
	void **a, **b, **c, **d;

	while (go && access(go, F_OK))
		usleep(10000);
	a = keep_small(scale * 16384);
	b = keep_large(scale * 4);
	churn(scale * 16384);
	c = realloc_grow(scale * 64);
	d = calloc_keep(scale * 1024);
	/* Each function's pointer array counts too: n * 8 bytes. */
	printf("keep_small %ld %ld\n", scale * 16384 * (64 + 8), scale * 16384 * (64 + 8));
	printf("keep_large %ld %ld\n", scale * 4 * ((1L << 20) + 8), scale * 4 * ((1L << 20) + 8));
	printf("churn 0 %ld\n", scale * 16384 * 4096);
	printf("realloc_grow %ld %ld\n", scale * 64 * (16384 + 8),
	       scale * 64 * (1024L + 2048 + 4096 + 8192 + 16384 + 8));
	printf("calloc_keep %ld %ld\n", scale * 1024 * (1024 + 8), scale * 1024 * (1024 + 8));
	fflush(stdout);
	usleep(hold * 1e6);
	sink = a, sink = b, sink = c, sink = d;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr,
			"usage: heap_sites sites SCALE [HOLD] | storm SECONDS | loop PAIRS\n");
		return 2;
	}
	fprintf(stderr, "ready %d\n", getpid());
	if (!strcmp(argv[1], "sites")) {
		sites(atol(argv[2]), argc > 3 ? atof(argv[3]) : 0.3);
	} else if (!strcmp(argv[1], "storm")) {
		malloc_storm(atof(argv[2]));
	} else if (!strcmp(argv[1], "loop")) {
		long pairs = atol(argv[2]);
		const char *go = getenv("HEAP_SITES_GO");
		double t0;

		while (go && access(go, F_OK))
			usleep(10000);
		t0 = now_s();

		pair_loop(pairs);
		printf("ns_per_pair %.1f\n", (now_s() - t0) * 1e9 / pairs);
	} else {
		fprintf(stderr, "heap_sites: unknown mode %s\n", argv[1]);
		return 2;
	}
	return 0;
}
