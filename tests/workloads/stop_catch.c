// SPDX-License-Identifier: Apache-2.0
/*
 * Freezes a profiler at a moment when it holds a process stopped, for the
 * tests of what a killed profiler leaves behind.
 *
 * usage: stop_catch PID [SECONDS]
 *   Watches the descendants of PID (bpfprof) until one is stopped (state T),
 *   then stops PID itself with SIGSTOP, so that it cannot continue that
 *   process.  When the process is still stopped once PID is, prints
 *   "ready STOPPED LAUNCHED" (the stopped process and PID's child above it)
 *   and exits 0; otherwise it lets PID go on and watches again.  Exits 1
 *   when nothing was caught within SECONDS (default 10).  Polls without
 *   sleeping: PID continues a process within a millisecond or so.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char state_of(int pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* A stopped process among pid's descendants (depth-first), or 0; *top is pid's child above it. */
static int find_stopped(int pid, int depth, int *top)
{
	char path[64], buf[4096], *p, *end;
	int child, found;
	ssize_t n;
	int fd;

	if (depth > 8)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (p = buf; *p; p = end) {
		child = strtol(p, &end, 10);
		if (end == p)
			break;
		if (state_of(child) == 'T')
			found = child;
		else
			found = find_stopped(child, depth + 1, top);
		if (found) {
			if (depth == 0)
				*top = child;
			return found;
		}
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits until pid is stopped itself (SIGSTOP lands at its next return to user space). */
static int wait_stopped(int pid)
{
	double until = now() + 2;

	while (now() < until) {
		if (state_of(pid) == 'T')
			return 0;
		usleep(1000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	int pid, stopped, top = 0;
	double until;

	if (argc < 2) {
		fprintf(stderr, "usage: stop_catch PID [SECONDS]\n");
		return 2;
	}
	pid = atoi(argv[1]);
	until = now() + (argc > 2 ? atof(argv[2]) : 10);
	while (now() < until) {
		stopped = find_stopped(pid, 0, &top);
		if (!stopped)
			continue;
		if (kill(pid, SIGSTOP) || wait_stopped(pid))
			return 1;
		if (state_of(stopped) == 'T') {
			printf("ready %d %d\n", stopped, top);
			return 0;
		}
		kill(pid, SIGCONT); /* it continued that one first: try again */
	}
	fprintf(stderr, "stop_catch: no stopped process below pid %d\n", pid);
	return 1;
}
