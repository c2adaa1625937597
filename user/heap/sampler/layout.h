/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-process heap sampler's data, as the sampler (sampler.c, built
 * freestanding into a blob) and bpfprof (heap/inject.c) both see it: the
 * blob's code is mapped from a memfd, this struct on the next page.
 */
#ifndef BPFPROF_SAMPLER_LAYOUT_H
#define BPFPROF_SAMPLER_LAYOUT_H

#define SAMPLER_MAGIC 0x31706d6173667062ULL /* "bpfsamp1" */
#define SAMPLER_VERSION 2

/* The wrapped functions: index into real[] and the blob's entry table. */
enum sampler_fn {
	SFN_MALLOC,
	SFN_CALLOC,
	SFN_REALLOC,
	SFN_REALLOCARRAY,
	SFN_MEMALIGN,
	SFN_ALIGNED_ALLOC,
	SFN_POSIX_MEMALIGN,
	SFN_VALLOC,
	SFN_PVALLOC,
	SFN_FREE,
	SFN__MAX,
};

#define SAMPLER_EXP_BITS 10
#define SAMPLER_EXP_SHIFT 16
#define SAMPLER_THREAD_BITS 8
#define SAMPLER_BUCKET_BITS 16
#define SAMPLER_BUCKET_WAYS 8
#define SAMPLER_MAX_SLOTS 1024

/* One per hashed thread (%fs base), a cache line each. */
struct sampler_thread {
	long long left; /* bytes until the next sampled allocation */
	unsigned long long rng;
	unsigned long long started;
	unsigned long long pad[5];
};

/* A GOT slot bpfprof redirected, and what it held: restored at detach. */
struct sampler_slot {
	unsigned long long addr;
	unsigned long long orig;
};

struct sampler_data {
	unsigned long long magic;
	unsigned long long version;
	unsigned long long rate;	   /* mean bytes between samples; 1: all */
	unsigned long long real[SFN__MAX]; /* the allocator's functions */
	unsigned long long seed;
	unsigned long long nslots; /* slots[] in use */
	/* Written at each sampled call: a line of their own, away from real[] that every call reads. */
	unsigned long long ntracked __attribute__((aligned(64))); /* sampled blocks in table */
	unsigned long long dropped; /* sampled but table bucket full */
	unsigned int exp[1 << SAMPLER_EXP_BITS] __attribute__((aligned(64))); /* -ln(u) << SHIFT */
	struct sampler_slot slots[SAMPLER_MAX_SLOTS];
	/*
	 * A bit per table bucket, set while it may hold a block: a free looks
	 * here (8 KiB, cached) before the bucket (a miss in 4 MiB).
	 */
	unsigned long long busy[(1 << SAMPLER_BUCKET_BITS) / 64];
	struct sampler_thread threads[1 << SAMPLER_THREAD_BITS];
	/* Sampled blocks' addresses, 8-way buckets (a cache line each); 0: free. */
	unsigned long long table[(1 << SAMPLER_BUCKET_BITS) * SAMPLER_BUCKET_WAYS]
		__attribute__((aligned(4096)));
};

#endif
