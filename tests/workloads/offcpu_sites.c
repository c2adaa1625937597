// SPDX-License-Identifier: Apache-2.0
/*
 * Threads that wait in known places and measure how long they waited, for
 * the off-CPU profile's tests.  At exit, RESULT gets one line per site:
 * "<site> <nanoseconds>".
 *
 * usage: offcpu_sites MODE SECONDS RESULT
 *   block  sleep_site: nanosleep 5 ms at a time ("sleeper" thread);
 *          pipe_site: read a pipe a "writer" thread writes every 7 ms
 *          ("reader"); mutex_site: lock a mutex a "holder" thread holds
 *          20 ms at a time ("waiter"); vfork_site: vfork a child that
 *          sleeps 3 ms, the parent waiting uninterruptibly ("vforker").
 *   busy   3 threads burning CPU in burn_site; on 2 CPUs they wait on the
 *          run queue; burn_site's line is their run_delay from
 *          /proc/thread-self/schedstat.
 *   nap    one nanosleep of SECONDS in long_nap.
 * Prints "ready <pid>" on stderr once running.
 *
 * The blocking calls go through syscall(2) from a function with a frame:
 * glibc has no frame pointers, so a frame-pointer walk from inside it skips
 * its direct caller (do_sleep, ...) but finds the site function above it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds;
static long long deadline;
static int pipe_fds[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long sink;

/* Nanoseconds measured per site; each written by one thread only. */
static long long sleep_ns, pipe_ns, mutex_ns, vfork_ns, busy_ns[3];

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((noinline)) static void keep(unsigned long x)
{
	sink = x;
}

__attribute__((noinline)) static void do_sleep(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };

	syscall(SYS_nanosleep, &ts, NULL);
	keep(ns);
}

__attribute__((noinline)) static void do_read(int fd)
{
	char c;

	if (syscall(SYS_read, fd, &c, 1) != 1)
		exit(3);
	keep(c);
}

__attribute__((noinline)) static void do_lock(void)
{
	pthread_mutex_lock(&lock);
	keep(1);
}

/* The vfork child sleeps and leaves without returning from here. */
__attribute__((noinline)) static int do_vfork(void)
{
	struct timespec ts = { 0, 3000000 };
	pid_t pid = vfork();

	if (pid == 0) {
		syscall(SYS_nanosleep, &ts, NULL);
		_exit(0);
	}
	keep(pid);
	return pid;
}

/* The sites: each times its blocking call. */
__attribute__((noinline)) void sleep_site(void)
{
	long long t0 = now_ns();

	do_sleep(5000000);
	sleep_ns += now_ns() - t0;
}

__attribute__((noinline)) void pipe_site(void)
{
	long long t0 = now_ns();

	do_read(pipe_fds[0]);
	pipe_ns += now_ns() - t0;
}

__attribute__((noinline)) void mutex_site(void)
{
	long long t0 = now_ns();

	do_lock();
	mutex_ns += now_ns() - t0;
	pthread_mutex_unlock(&lock);
}

static long long thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Off the CPU only: vfork() also runs copy_process in this thread, CPU time
 * that grows under load and is no wait.
 */
__attribute__((noinline)) void vfork_site(void)
{
	long long t0 = now_ns(), c0 = thread_cpu_ns();
	int pid = do_vfork();

	vfork_ns += now_ns() - t0 - (thread_cpu_ns() - c0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* Waits that are not measured, in functions of their own. */
__attribute__((noinline)) void writer_nap(void)
{
	do_sleep(7000000);
}

__attribute__((noinline)) void holder_nap(void)
{
	do_sleep(20000000);
}

__attribute__((noinline)) void waiter_rest(void)
{
	do_sleep(4000000);
}

static void *sleeper(void *arg)
{
	while (now_ns() < deadline)
		sleep_site();
	return NULL;
}

static void *reader(void *arg)
{
	while (now_ns() < deadline)
		pipe_site();
	return NULL;
}

static void *writer(void *arg)
{
	/* One byte after the deadline too, so the reader's last read returns. */
	do {
		writer_nap();
		if (write(pipe_fds[1], "x", 1) != 1)
			exit(3);
	} while (now_ns() < deadline);
	return NULL;
}

static void *waiter(void *arg)
{
	while (now_ns() < deadline) {
		mutex_site();
		waiter_rest();
	}
	return NULL;
}

static void *holder(void *arg)
{
	while (now_ns() < deadline) {
		pthread_mutex_lock(&lock);
		holder_nap();
		pthread_mutex_unlock(&lock);
		do_sleep(2000000);
	}
	return NULL;
}

static void *vforker(void *arg)
{
	while (now_ns() < deadline) {
		vfork_site();
		do_sleep(2000000);
	}
	return NULL;
}

/* Time this thread waited on a run queue (ns), from schedstat's second field. */
static long long run_delay(void)
{
	long long run = 0, delay = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	if (!f || fscanf(f, "%lld %lld", &run, &delay) != 2)
		exit(3);
	fclose(f);
	return delay;
}

__attribute__((noinline)) unsigned long burn_site(unsigned long x)
{
	for (int i = 0; i < 100000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	keep(x);
	return x + 1;
}

static void *burner(void *arg)
{
	long long *out = arg, d0 = run_delay();
	unsigned long x = 1;

	while (now_ns() < deadline)
		x = burn_site(x);
	*out = run_delay() - d0;
	return NULL;
}

__attribute__((noinline)) void long_nap(void)
{
	do_sleep((long)(seconds * 1e9));
}

struct thread_spec {
	const char *name;
	void *(*fn)(void *);
	void *arg;
};

/* Names the thread before it waits anywhere: the tests select threads by name. */
static void *named(void *arg)
{
	const struct thread_spec *spec = arg;

	pthread_setname_np(pthread_self(), spec->name);
	return spec->fn(spec->arg);
}

static void run_threads(const struct thread_spec *specs, int n)
{
	pthread_t tids[8];
	int i;

	for (i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, named, (void *)&specs[i]))
			exit(3);
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
}

int main(int argc, char **argv)
{
	static const struct thread_spec block[] = {
		{ "sleeper", sleeper, NULL }, { "reader", reader, NULL },
		{ "writer", writer, NULL },   { "waiter", waiter, NULL },
		{ "holder", holder, NULL },   { "vforker", vforker, NULL },
	};
	const struct thread_spec busy[] = {
		{ "burner", burner, &busy_ns[0] },
		{ "burner", burner, &busy_ns[1] },
		{ "burner", burner, &busy_ns[2] },
	};
	FILE *out;

	if (argc != 4 || (seconds = atof(argv[2])) <= 0) {
		fprintf(stderr, "usage: offcpu_sites block|busy|nap SECONDS RESULT\n");
		return 2;
	}
	if (pipe(pipe_fds))
		return 3;
	deadline = now_ns() + (long long)(seconds * 1e9);
	fprintf(stderr, "ready %d\n", getpid());
	if (!strcmp(argv[1], "block"))
		run_threads(block, 6);
	else if (!strcmp(argv[1], "busy"))
		run_threads(busy, 3);
	else if (!strcmp(argv[1], "nap"))
		long_nap();
	else
		return 2;

	out = fopen(argv[3], "w");
	if (!out)
		return 3;
	fprintf(out, "sleep_site %lld\npipe_site %lld\nmutex_site %lld\nvfork_site %lld\n",
		sleep_ns, pipe_ns, mutex_ns, vfork_ns);
	fprintf(out, "burn_site %lld\n", busy_ns[0] + busy_ns[1] + busy_ns[2]);
	fprintf(out, "long_nap %lld\n", (long long)(seconds * 1e9));
	return fclose(out) ? 3 : 0;
}
