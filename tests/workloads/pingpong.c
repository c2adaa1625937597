// SPDX-License-Identifier: Apache-2.0
/*
 * Two threads pass a byte back and forth through two pipes, ROUNDS times:
 * every pass blocks one thread and wakes the other, so the run is almost
 * nothing but context switches.  Each pass first spins SPIN_NS nanoseconds
 * (default 0) on the clock, to set the switch rate: by the clock, not a loop
 * count, so time the host takes from the VM does not lengthen the work.
 * For the off-CPU overhead benchmark and the sampling test.
 *
 * usage: pingpong ROUNDS [SPIN_NS]
 * prints "elapsed <s> switches/s <rate> cpu <s> offcpu_ms <ms> switches <n>":
 * the time of the passes, the context switch rate and the process's CPU
 * time during them (a profiler's work in the switches is charged to it;
 * other processes' time is not), and for both threads together, from their
 * start to their end, the time off the CPU (wall time minus CPU time) and
 * the context switches.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int ping[2], pong[2];
static long rounds;
static double spin_s;

/* A thread's time off the CPU (ns) and context switches, from start to end. */
struct away {
	double offcpu_ns;
	long switches;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void spin(void)
{
	double end;

	if (spin_s <= 0)
		return;
	end = clock_s(CLOCK_MONOTONIC) + spin_s;
	while (clock_s(CLOCK_MONOTONIC) < end)
		;
}

__attribute__((noinline)) static void pass(int in, int out)
{
	char c;

	if (read(in, &c, 1) != 1)
		exit(3);
	spin();
	if (write(out, &c, 1) != 1)
		exit(3);
}

/* Since the thread started at wall time start: its wall time minus its CPU time. */
static void away_since(double start, struct away *a)
{
	struct rusage ru;

	a->offcpu_ns = (clock_s(CLOCK_MONOTONIC) - start - clock_s(CLOCK_THREAD_CPUTIME_ID)) * 1e9;
	getrusage(RUSAGE_THREAD, &ru);
	a->switches = ru.ru_nvcsw + ru.ru_nivcsw;
}

static void *ponger(void *arg)
{
	double start = clock_s(CLOCK_MONOTONIC) - clock_s(CLOCK_THREAD_CPUTIME_ID);

	for (long r = 0; r < rounds; r++)
		pass(ping[0], pong[1]);
	away_since(start, arg);
	return NULL;
}

static void read_switches(long *out)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");

	*out = 0;
	while (f && fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			*out += v;
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	/* The main thread started before main: count from its CPU time so far. */
	double t0 = clock_s(CLOCK_MONOTONIC) - clock_s(CLOCK_THREAD_CPUTIME_ID);
	struct away main_away, pong_away;
	long s0, s1;
	pthread_t t;
	double start, el, cpu;
	char c = 'x';

	rounds = argc > 1 ? atol(argv[1]) : 100000;
	spin_s = argc > 2 ? atol(argv[2]) / 1e9 : 0;
	if (rounds < 1 || spin_s < 0 || pipe(ping) || pipe(pong)) {
		fprintf(stderr, "usage: pingpong ROUNDS [SPIN_NS]\n");
		return 2;
	}
	if (pthread_create(&t, NULL, ponger, &pong_away))
		return 3;
	read_switches(&s0);
	start = clock_s(CLOCK_MONOTONIC);
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (long r = 0; r < rounds; r++) {
		spin();
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			return 3;
	}
	el = clock_s(CLOCK_MONOTONIC) - start;
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	read_switches(&s1);
	pthread_join(t, NULL);
	away_since(t0, &main_away);
	/* Both threads block once a round; the main thread's count doubles for both. */
	printf("elapsed %.4f switches/s %.0f cpu %.4f offcpu_ms %.1f switches %ld\n", el,
	       2.0 * (s1 - s0) / el, cpu, (main_away.offcpu_ns + pong_away.offcpu_ns) / 1e6,
	       main_away.switches + pong_away.switches);
	return 0;
}
