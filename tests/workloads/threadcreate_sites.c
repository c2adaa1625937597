// SPDX-License-Identifier: Apache-2.0
/*
 * Creates a known number of threads and processes from known places, for
 * the threadcreate profile's tests.
 *
 * usage: threadcreate_sites A B P [HOLD_SECONDS]
 *   thread "maker-a" creates A threads in spawn_a, thread "maker-b" B
 *   threads in spawn_b, and thread "forker" forks P processes in fork_site;
 *   every thread and child exits at once.  With HOLD_SECONDS, waits that
 *   long first (after "ready"), so a profiler can attach by pid.
 * Prints "ready <pid>" on stderr once running.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void keep(unsigned long x)
{
	sink = x;
}

static void *child_thread(void *arg)
{
	keep((unsigned long)arg);
	return NULL;
}

/* One thread, created and joined; the frame keeps spawn_a/b on the stack. */
__attribute__((noinline)) static void create_one(unsigned long i)
{
	pthread_t t;

	if (pthread_create(&t, NULL, child_thread, (void *)i))
		exit(3);
	pthread_join(t, NULL);
	keep(i);
}

__attribute__((noinline)) void spawn_a(unsigned long i)
{
	create_one(i);
	keep(i);
}

__attribute__((noinline)) void spawn_b(unsigned long i)
{
	create_one(i);
	keep(i);
}

__attribute__((noinline)) void fork_site(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		exit(3);
	waitpid(pid, NULL, 0);
	keep(pid);
}

static long count_a, count_b, count_p;

static void *maker_a(void *arg)
{
	/* Named before the first creation: the profile tells sites apart by name. */
	pthread_setname_np(pthread_self(), "maker-a");
	for (long i = 0; i < count_a; i++)
		spawn_a(i);
	return NULL;
}

static void *maker_b(void *arg)
{
	pthread_setname_np(pthread_self(), "maker-b");
	for (long i = 0; i < count_b; i++)
		spawn_b(i);
	return NULL;
}

static void *forker(void *arg)
{
	pthread_setname_np(pthread_self(), "forker");
	for (long i = 0; i < count_p; i++)
		fork_site();
	return NULL;
}

int main(int argc, char **argv)
{
	static void *(*const makers[])(void *) = { maker_a, maker_b, forker };
	pthread_t tids[3];
	double hold;
	int i;

	if (argc < 4) {
		fprintf(stderr, "usage: threadcreate_sites A B P [HOLD_SECONDS]\n");
		return 2;
	}
	count_a = atol(argv[1]);
	count_b = atol(argv[2]);
	count_p = atol(argv[3]);
	hold = argc > 4 ? atof(argv[4]) : 0;
	fprintf(stderr, "ready %d\n", getpid());
	if (hold > 0) {
		struct timespec ts = { (time_t)hold, (long)((hold - (time_t)hold) * 1e9) };

		nanosleep(&ts, NULL);
	}
	/* The makers are threads too: three more creations in main. */
	for (i = 0; i < 3; i++) {
		if (pthread_create(&tids[i], NULL, makers[i], NULL))
			return 3;
	}
	for (i = 0; i < 3; i++)
		pthread_join(tids[i], NULL);
	return 0;
}
