// SPDX-License-Identifier: Apache-2.0
/*
 * Grows its anonymous memory by known amounts from known functions, for
 * heap --mode growth's tests.
 *
 * usage: heap_growth once | loop SECONDS
 *   once: in this order, keeping the memory (a profiler that launched it
 *     holds it while it reads its maps: no pause is needed here):
 *     grow_mmap     mmap 64 MiB private anonymous, write every page
 *     grow_mremap   mmap 4 MiB, write it, mremap it to 12 MiB, write the rest
 *     grow_brk      malloc 32 MiB in 1 KiB chunks (the main arena: brk), write them
 *     grow_arena    starts a thread "arena" (its stack: mmap PROT_NONE, then
 *                   mprotect) whose arena_thread mallocs 16 MiB the same way
 *                   (a thread arena: mmap PROT_NONE, then mprotect)
 *     scratch_map   mmap 8 MiB, write it; scratch_unmap munmaps it
 *     then sleeps 0.3 s and exits.
 *   loop: every 100 ms, grow_mmap (8 MiB) and release_mmap (munmap it),
 *     grow_brk (4 MiB) and release_brk (free it all: glibc trims the heap
 *     with brk), until SECONDS have passed.
 * Prints "ready <pid>" on stderr once running.  Transparent huge pages are
 * turned off for its regions (MADV_NOHUGEPAGE): one fault is one page.
 *
 * Functions with frames and no tail calls (see the Makefile), so each one
 * is on the stack.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024L * 1024)
/* A 1 KiB chunk: request + 8 bytes of header, rounded to 16. */
#define CHUNK_REQUEST 1016
#define CHUNK 1024

static long page;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Writes one byte per page of [p, p + len): each write faults a page in. */
static void touch(char *p, long len)
{
	long i;

	for (i = 0; i < len; i += page)
		p[i] = 1;
}

static char *map_anon(long len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static char *grow_mmap(long len)
{
	char *p = map_anon(len);

	touch(p, len);
	return p;
}

static void release_mmap(char *p, long len)
{
	munmap(p, len);
}

static char *grow_mremap(long len, long new_len)
{
	char *p = map_anon(len);

	touch(p, len);
	p = mremap(p, len, new_len, MREMAP_MAYMOVE);
	if (p == MAP_FAILED) {
		perror("mremap");
		exit(1);
	}
	madvise(p, new_len, MADV_NOHUGEPAGE);
	touch(p + len, new_len - len);
	return p;
}

/*
 * n 1 KiB chunks from malloc, each written whole, chained oldest first
 * through their first word (an array of pointers would be a block of its
 * own).
 */
static char *alloc_chunks(long n)
{
	char *head = NULL, *tail = NULL, *b;
	long i;

	for (i = 0; i < n; i++) {
		b = malloc(CHUNK_REQUEST);
		memset(b, 1, CHUNK_REQUEST);
		*(char **)b = NULL;
		if (tail)
			*(char **)tail = b;
		else
			head = b;
		tail = b;
	}
	return head;
}

/* The main thread's chunks come from the main arena, grown with brk. */
static char *grow_brk(long n)
{
	return alloc_chunks(n);
}

/*
 * Oldest first: the first few go to the tcache, the others coalesce, and the
 * last one, next to the top of the heap, makes a free top large enough for
 * free() to trim the heap with brk.
 */
static void release_brk(char *head)
{
	char *next;

	for (; head; head = next) {
		next = *(char **)head;
		free(head);
	}
}

static char *scratch_map(long len)
{
	char *p = map_anon(len);

	touch(p, len);
	return p;
}

static void scratch_unmap(char *p, long len)
{
	munmap(p, len);
}

static void *arena_thread(void *arg)
{
	long n = (long)arg;

	pthread_setname_np(pthread_self(), "arena");
	return alloc_chunks(n);
}

static void grow_arena(long n)
{
	pthread_t t;
	void *blocks;

	pthread_create(&t, NULL, arena_thread, (void *)n);
	pthread_join(t, &blocks);
}

static void once(void)
{
	char *p;

	grow_mmap(64 * MIB);
	grow_mremap(4 * MIB, 12 * MIB);
	grow_brk(32 * MIB / CHUNK);
	grow_arena(16 * MIB / CHUNK);
	p = scratch_map(8 * MIB);
	scratch_unmap(p, 8 * MIB);
	nap_ms(300);
}

static void loop(double seconds)
{
	long long end = now_ns() + (long long)(seconds * 1e9);
	char *blocks, *p;

	while (now_ns() < end) {
		p = grow_mmap(8 * MIB);
		release_mmap(p, 8 * MIB);
		blocks = grow_brk(4 * MIB / CHUNK);
		release_brk(blocks);
		nap_ms(100);
	}
}

int main(int argc, char **argv)
{
	page = sysconf(_SC_PAGESIZE);
	if (argc == 2 && !strcmp(argv[1], "once")) {
		fprintf(stderr, "ready %d\n", getpid());
		once();
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "loop")) {
		fprintf(stderr, "ready %d\n", getpid());
		loop(atof(argv[2]));
		return 0;
	}
	fprintf(stderr, "usage: %s once | loop SECONDS\n", argv[0]);
	return 2;
}
