// SPDX-License-Identifier: Apache-2.0
/*
 * dlopens a library once, when told, and at once calls into it: its
 * constructor allocates, then lib_keep() allocates blocks of known sizes,
 * right after dlopen returns.  A profiler that redirects a library's
 * allocator calls some time after it was loaded misses them.
 *
 * usage: dlopen_now LIB [SECONDS [THREADS]]
 *   Prints "ready" on stdout; when the file $DLOPEN_NOW_GO exists (checked
 *   every millisecond; at once when unset), dlopens LIB (lazy binding),
 *   calls lib_keep(8, 100000) and prints "lib_keep BYTES" and
 *   "lib_ctor_alloc BYTES" (what each kept), then lives SECONDS more
 *   (default 30).  THREADS (default 0) threads allocate, fill, check and
 *   free blocks all along (churn_check); a block found changed prints
 *   "CORRUPT".
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP_N 8
#define KEEP_SIZE 100000

static void *churn_check(void *arg)
{
	unsigned char *p[16] = { 0 };
	unsigned long i, k, n;

	for (i = 0;; i++) {
		k = i % 16;
		if (p[k]) {
			n = 16 + (k * 37) % 500;
			if (memchr(p[k], 0, n) || p[k][0] != (unsigned char)(k + 1) ||
			    p[k][n - 1] != (unsigned char)(k + 1)) {
				printf("CORRUPT\n");
				fflush(stdout);
			}
			free(p[k]);
		}
		n = 16 + (k * 37) % 500;
		p[k] = malloc(n);
		if (p[k])
			memset(p[k], (int)(k + 1), n);
	}
	return arg;
}

int main(int argc, char **argv)
{
	const char *go = getenv("DLOPEN_NOW_GO");
	double seconds = argc > 2 ? atof(argv[2]) : 30;
	int i, threads = argc > 3 ? atoi(argv[3]) : 0;
	pthread_t t;
	void *(*keep)(long, long);
	long (*ctor_bytes)(void);
	void *h;

	if (argc < 2) {
		fprintf(stderr, "usage: dlopen_now LIB [SECONDS]\n");
		return 2;
	}
	for (i = 0; i < threads; i++)
		if (pthread_create(&t, NULL, churn_check, NULL))
			return 1;
	printf("ready\n");
	fflush(stdout);
	while (go && access(go, F_OK))
		usleep(1000);
	h = dlopen(argv[1], RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	keep = (void *(*)(long, long))dlsym(h, "lib_keep");
	ctor_bytes = (long (*)(void))dlsym(h, "lib_ctor_bytes");
	if (!keep || !ctor_bytes)
		return 1;
	keep(KEEP_N, KEEP_SIZE);
	printf("lib_keep %ld\nlib_ctor_alloc %ld\n", (long)KEEP_N * KEEP_SIZE, ctor_bytes());
	fflush(stdout);
	usleep((useconds_t)(seconds * 1e6));
	return 0;
}
