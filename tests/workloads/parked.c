// SPDX-License-Identifier: Apache-2.0
/*
 * Threads parked in known functions, for `bpfprof threads`: thread i is
 * named "<kind>-<i>" and blocks forever in park_<kind>(), one of
 *   sleep  nanosleep() of a day
 *   read   read() of a pipe nobody writes to
 *   cond   pthread_cond_wait() on a condition nobody signals
 * The main thread waits in pthread_join().
 *
 * usage: parked [THREADS]     (default 3, at most 1000)
 * Prints "ready <pid>" on stderr once every thread is asleep in the kernel.
 *
 * Each park_*() calls the blocking libc function through block_*(), a
 * function of its own with a frame: at a blocked thread the user ip is in
 * glibc, which keeps no frame pointer, so a frame-pointer walk skips the
 * direct caller of the libc function (block_*) but finds park_*() and its
 * callers.  The test checks for park_*() and reports what happened to
 * block_*().
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int pipe_fds[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static volatile int sink;
static volatile int stop; /* never set: the loops must not look infinite to gcc */

/* The blocking calls, each in a function with a frame that does more after it. */
__attribute__((noinline)) static int block_sleep(void)
{
	struct timespec day = { .tv_sec = 86400 };

	while (!stop)
		nanosleep(&day, NULL);
	return sink + 1;
}

__attribute__((noinline)) static int block_read(void)
{
	char c;

	while (!stop && read(pipe_fds[0], &c, 1) != 0)
		;
	return sink + 2;
}

__attribute__((noinline)) static int block_cond(void)
{
	pthread_mutex_lock(&lock);
	while (!stop)
		pthread_cond_wait(&never, &lock);
	pthread_mutex_unlock(&lock);
	return sink + 3;
}

__attribute__((noinline)) int park_sleep(void)
{
	return block_sleep() + 1;
}

__attribute__((noinline)) int park_read(void)
{
	return block_read() + 1;
}

__attribute__((noinline)) int park_cond(void)
{
	return block_cond() + 1;
}

static const struct kind {
	const char *name;
	int (*park)(void);
} kinds[] = {
	{ "sleep", park_sleep },
	{ "read", park_read },
	{ "cond", park_cond },
};

static void *thread_main(void *arg)
{
	long i = (long)arg;
	const struct kind *k = &kinds[i % 3];
	char name[16];

	snprintf(name, sizeof(name), "%s-%ld", k->name, i);
	pthread_setname_np(pthread_self(), name);
	sink += k->park();
	return NULL;
}

/* Number of threads of this process, main included, asleep ('S') in the kernel. */
static int sleeping_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[64], buf[512], *p;
	int n = 0;
	FILE *f;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* "tid (comm) S ...": the state follows the last ')'. */
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] && p[2] == 'S')
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 3, i;
	pthread_t *tids;
	int tries;

	if (n < 1 || n > 1000) {
		fprintf(stderr, "parked: THREADS must be 1..1000\n");
		return 2;
	}
	tids = calloc(n, sizeof(*tids));
	if (!tids || pipe(pipe_fds)) {
		perror("parked");
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (pthread_create(&tids[i], NULL, thread_main, (void *)i)) {
			perror("parked: pthread_create");
			return 1;
		}
	}
	/* Every thread but main (which is running this) asleep: all are parked. */
	for (tries = 0; sleeping_threads() < n; tries++) {
		if (tries == 5000) {
			fprintf(stderr, "parked: threads did not park\n");
			return 1;
		}
		usleep(1000);
	}
	fprintf(stderr, "ready %d\n", getpid());
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	return 0;
}
