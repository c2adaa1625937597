// SPDX-License-Identifier: Apache-2.0
/*
 * The in-process heap sampler's free path, outside any process bpfprof
 * injects into: user/heap/sampler/sampler.c linked in directly, its data
 * filled as bpfprof fills it (glibc's malloc and free, the default rate).
 * KEEP blocks of 256 bytes are allocated through the sampler and kept, so
 * that some sampled ones are live (a free must then look them up); then
 * OPS times, a block of a ring of RING 32-byte blocks is freed and
 * allocated again, the free through the sampler or (bare) not.
 *
 * usage: sampler_free bare|sampler KEEP OPS RING
 *   prints "ns_per_pair <ns> tracked <live sampled blocks>"
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layout.h"

extern struct sampler_data sampler_data;
void *sampler_malloc(unsigned long n);
void sampler_free(void *p);

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void fill(void)
{
	int i;

	sampler_data.rate = 512 * 1024;
	sampler_data.real[SFN_MALLOC] = (unsigned long long)malloc;
	sampler_data.real[SFN_FREE] = (unsigned long long)free;
	sampler_data.seed = 12345;
	for (i = 0; i < (1 << SAMPLER_EXP_BITS); i++)
		sampler_data.exp[i] = (unsigned int)(-log((i + 0.5) / (1 << SAMPLER_EXP_BITS)) *
						     (1 << SAMPLER_EXP_SHIFT));
}

int main(int argc, char **argv)
{
	long keep, ops, ring, i;
	void **kept, **r;
	int bare;
	double t0;

	if (argc < 5) {
		fprintf(stderr, "usage: sampler_free bare|sampler KEEP OPS RING\n");
		return 2;
	}
	bare = !strcmp(argv[1], "bare");
	keep = atol(argv[2]);
	ops = atol(argv[3]);
	ring = atol(argv[4]);
	kept = malloc(keep * sizeof(*kept));
	r = malloc(ring * sizeof(*r));
	if (!kept || !r || ring <= 0)
		return 1;
	fill();
	for (i = 0; i < keep; i++)
		kept[i] = sampler_malloc(256);
	for (i = 0; i < ring; i++)
		r[i] = malloc(32);
	t0 = now();
	for (i = 0; i < ops; i++) {
		if (bare)
			free(r[i % ring]);
		else
			sampler_free(r[i % ring]);
		r[i % ring] = malloc(32);
	}
	printf("ns_per_pair %.1f tracked %llu\n", (now() - t0) / ops * 1e9, sampler_data.ntracked);
	return 0;
}
