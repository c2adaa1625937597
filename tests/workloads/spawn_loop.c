// SPDX-License-Identifier: Apache-2.0
/*
 * Starts fresh processes all the time, each doing one kind of profiled
 * work: a profiler that follows children meets new mappings again and
 * again (bpfprof stops such a process until it has read them).
 *
 * usage: spawn_loop cpu|heap|mutex|threadcreate [SECONDS]
 *   Prints "ready", then every 20 ms runs itself again as a child (fork and
 *   exec) that burns 30 ms of CPU, allocates, contends for a mutex or
 *   creates threads, and
 *   waits for it; ends after SECONDS (default 30).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

static void do_cpu(void)
{
	struct timespec ts, start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < 100000; i++)
			counter++;
		clock_gettime(CLOCK_MONOTONIC, &ts);
	} while ((ts.tv_sec - start.tv_sec) * 1000000000L + ts.tv_nsec - start.tv_nsec < 30000000L);
}

static void do_heap(void)
{
	char *p;
	int i;

	for (i = 0; i < 200; i++) {
		p = malloc(64 << 10);
		if (!p)
			exit(1);
		memset(p, i, 64 << 10);
		free(p);
	}
}

static void *contend(void *arg)
{
	int i, j;

	for (i = 0; i < 2000; i++) {
		pthread_mutex_lock(&lock);
		for (j = 0; j < 1000; j++)
			counter++;
		pthread_mutex_unlock(&lock);
	}
	return arg;
}

static void *idle(void *arg)
{
	return arg;
}

static void run_threads(void *(*fn)(void *), int n)
{
	pthread_t t[4];
	int i;

	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, NULL))
			exit(1);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static int child(const char *mode)
{
	if (!strcmp(mode, "cpu"))
		do_cpu();
	else if (!strcmp(mode, "heap"))
		do_heap();
	else if (!strcmp(mode, "mutex"))
		run_threads(contend, 4);
	else if (!strcmp(mode, "threadcreate"))
		run_threads(idle, 4);
	else
		return 2;
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec pause = { 0, 20 * 1000000L };
	time_t end;
	pid_t pid;

	if (argc > 2 && !strcmp(argv[1], "child"))
		return child(argv[2]);
	if (argc < 2) {
		fprintf(stderr, "usage: spawn_loop cpu|heap|mutex|threadcreate [SECONDS]\n");
		return 2;
	}
	end = time(NULL) + (argc > 2 ? atoi(argv[2]) : 30);
	printf("ready\n");
	fflush(stdout);
	while (time(NULL) < end) {
		pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "child", argv[1], (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
		nanosleep(&pause, NULL);
	}
	return 0;
}
