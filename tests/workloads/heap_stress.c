// SPDX-License-Identifier: Apache-2.0
/*
 * A multi-threaded, allocation-heavy program that checks its own data, for
 * the in-process heap sampler's tests: attached and detached many times, it
 * must not crash nor see a block change under it.
 *
 * usage: heap_stress THREADS SECONDS   (0: until SIGTERM)
 *   Each thread keeps 256 blocks, replacing one at a time with a block from
 *   malloc, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
 *   memalign, valloc or strdup (sizes 1 byte to 64 KiB), each filled with a
 *   pattern that is checked before it is freed (calloc's zeroes too).  Every
 *   0.2 s the main thread forks a child that does the same briefly and must
 *   exit 0.  Prints "ready <pid>" on stderr, then at the end "ok <operations>"
 *   on stdout and exits 0; on a bad block "CORRUPT ..." and exits 1.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEEP 256

struct block {
	unsigned char *p;
	size_t n;
	unsigned char tag;
};

static volatile sig_atomic_t stop, term;

static void on_term(int sig)
{
	term = 1;
}
static long total_ops[64];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void corrupt(const char *what, size_t i, size_t n)
{
	printf("CORRUPT %s at byte %zu of %zu\n", what, i, n);
	fflush(stdout);
	_exit(1);
}

static void fill(struct block *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		b->p[i] = (unsigned char)(b->tag + i);
}

static void check(const struct block *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->p[i] != (unsigned char)(b->tag + i))
			corrupt("pattern", i, b->n);
}

static void *alloc_one(struct block *b, uint64_t *s)
{
	size_t n = 1 + next(s) % (next(s) % 8 == 0 ? 65536 : 512), i;
	void *p = NULL;
	char *str;

	switch (next(s) % 9) {
	case 0:
		p = malloc(n);
		break;
	case 1:
		p = calloc(1, n);
		if (p)
			for (i = 0; i < n; i++)
				if (((unsigned char *)p)[i])
					corrupt("calloc zero", i, n);
		break;
	case 2:
		p = realloc(NULL, n);
		break;
	case 3:
		p = reallocarray(NULL, n, 1);
		break;
	case 4:
		if (posix_memalign(&p, 64, n))
			p = NULL;
		break;
	case 5:
		p = aligned_alloc(32, (n + 31) & ~(size_t)31);
		break;
	case 6:
		p = memalign(128, n);
		break;
	case 7:
		p = valloc(n);
		break;
	default:
		str = malloc(n);
		if (str) {
			memset(str, 'x', n - 1);
			str[n - 1] = 0;
			p = strdup(str);
			free(str);
		}
		break;
	}
	if (!p) {
		printf("CORRUPT allocation of %zu failed\n", n);
		fflush(stdout);
		_exit(1);
	}
	b->p = p;
	b->n = n;
	b->tag = (unsigned char)next(s);
	fill(b);
	return p;
}

/* Replaces blocks until told to stop; grows some in place with realloc. */
static long churn(uint64_t seed, double seconds)
{
	struct block keep[KEEP];
	double end = seconds > 0 ? now_s() + seconds : 0;
	uint64_t s = seed | 1;
	long ops = 0;
	size_t i, j, old;
	unsigned char *q;

	for (i = 0; i < KEEP; i++)
		alloc_one(&keep[i], &s);
	do {
		for (j = 0; j < 1024; j++, ops++) {
			i = next(&s) % KEEP;
			check(&keep[i]);
			if (next(&s) % 4 == 0) {
				old = keep[i].n;
				q = realloc(keep[i].p, old * 2);
				if (!q)
					corrupt("realloc failed", 0, old);
				for (size_t k = 0; k < old; k++)
					if (q[k] != (unsigned char)(keep[i].tag + k))
						corrupt("realloc copy", k, old);
				keep[i].p = q;
				keep[i].n = old * 2 > 131072 ? 131072 : old * 2;
				fill(&keep[i]);
				continue;
			}
			free(keep[i].p);
			alloc_one(&keep[i], &s);
		}
	} while (!stop && (!end || now_s() < end));
	for (i = 0; i < KEEP; i++) {
		check(&keep[i]);
		free(keep[i].p);
	}
	return ops; /* at least one round */
}

static void *thread_main(void *arg)
{
	long t = (long)arg;

	total_ops[t] = churn(0x9e3779b97f4a7c15ULL * (t + 1), 0);
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 4, i, st;
	double seconds = argc > 2 ? atof(argv[2]) : 10, end;
	pthread_t th[64];
	long ops = 0;
	pid_t child;

	if (nthreads < 1 || nthreads > 64) {
		fprintf(stderr, "heap_stress: 1..64 threads\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	fprintf(stderr, "ready %d\n", getpid());
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, thread_main, (void *)(long)i);
	end = now_s() + seconds;
	while (!term && (seconds <= 0 || now_s() < end)) {
		usleep(200000);
		child = fork();
		if (child == 0)
			_exit(churn(12345, 0.05) > 0 ? 0 : 1);
		if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) ||
		    WEXITSTATUS(st)) {
			printf("CORRUPT forked child failed (status %d)\n", st);
			fflush(stdout);
			return 1;
		}
	}
	stop = 1;
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		ops += total_ops[i];
	}
	printf("ok %ld\n", ops);
	return 0;
}
