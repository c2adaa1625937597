// SPDX-License-Identifier: Apache-2.0
/*
 * Threads that contend for locks in known functions and count their own
 * contentions, for the mutex profile's tests.
 *
 * usage: mutex_sites SECONDS RESULT
 *   hot lock: threads hot-a, hot-b, hot-c take it in acquire_hot_a/_b/_c,
 *       hold it ~300 us, release it in release_hot_a/_b/_c, rest 100 us;
 *       it is nearly always held, so most acquisitions wait.
 *   cold lock: cold-hog holds it 5 ms every 40 ms (taken in hog_acquire,
 *       released in hog_release); cold-wait takes it briefly every 2-5 ms
 *       in acquire_cold and sometimes finds the hog holding it: every wait
 *       on it but the hog's own is ended by hog_release.
 *   rwlock: rw-writer holds the write lock 1 ms every 5 ms (rw_write_site,
 *       released in rw_write_release); rw-reader1/2 hold read locks 300 us
 *       every 800 us (rw_read_site, rw_read_release).
 *   condition variable: cond-wait waits in cond_wait_site for cond-signal,
 *       which signals every 3 ms from cond_signal_site.
 *   priority-inheritance mutex (FUTEX_LOCK_PI / FUTEX_UNLOCK_PI): pi-a and
 *       pi-b take it in acquire_pi, hold it 400 us, release it in
 *       release_pi and rest 200 us.
 *   futex2 calls, as Wine and other non-glibc locks make them: fx-wait
 *       waits with futex_waitv on two words (fx_a, fx_b) in waitv_site, then
 *       with futex_wait on fx_c in futex2_wait_site; fx-wake wakes fx_b in
 *       wake_waitv_site and fx_c in futex2_wake_site, 2 ms apart.  Left out
 *       (counts 0) on kernels without them (5.16 and 6.7).
 * A contention is an acquisition whose try-lock failed first; its delay is
 * the time in the blocking call that followed.  A condition wait is every
 * pthread_cond_wait call.  Prints the locks' addresses and "ready <pid>" on
 * stderr once running; at exit writes "<site> <contentions> <ns>" lines
 * (and "lock <name> <address>" lines) to RESULT and to stdout.
 *
 * Functions with frames and no tail calls (see the Makefile), so each site
 * is on the stack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* futex2 (uapi linux/futex.h of 6.7, which older headers lack). */
#define NR_futex_waitv 449
#define NR_futex_wake 454
#define NR_futex_wait 455
#define FUTEX2_U32_PRIVATE (0x02 | 128)

struct waitv_entry {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

static pthread_mutex_t hot = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cold = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t cond_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pi;	  /* PTHREAD_PRIO_INHERIT, set up in main */
static uint32_t fx_a, fx_b, fx_c; /* futex2 words: they stay 0, waits sleep until woken */
static volatile int fx_done;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int cond_ready;
static volatile int stop;
static volatile unsigned long sink;

/* What one site counted; each written by one thread only. */
struct site {
	const char *name;
	long long count;
	long long ns;
};

enum {
	HOT_A,
	HOT_B,
	HOT_C,
	COLD_WAIT,
	COLD_HOG,
	RW_READ1,
	RW_READ2,
	RW_WRITE,
	COND_WAIT,
	PI_A,
	PI_B,
	WAITV,
	FUTEX2_WAIT,
	NSITES
};

static struct site sites[NSITES] = {
	[HOT_A] = { "hot_a" },
	[HOT_B] = { "hot_b" },
	[HOT_C] = { "hot_c" },
	[COLD_WAIT] = { "cold_wait" },
	[COLD_HOG] = { "cold_hog" },
	[RW_READ1] = { "rw_read1" },
	[RW_READ2] = { "rw_read2" },
	[RW_WRITE] = { "rw_write" },
	[COND_WAIT] = { "cond_wait" },
	[PI_A] = { "pi_a" },
	[PI_B] = { "pi_b" },
	[WAITV] = { "waitv" },
	[FUTEX2_WAIT] = { "futex2_wait" },
};

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

__attribute__((noinline)) static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };

	nanosleep(&ts, NULL);
	keep(us);
}

/* Takes m; when the try-lock fails, counts a contention and times the wait. */
__attribute__((noinline)) static void counted_lock(pthread_mutex_t *m, struct site *s)
{
	long long t0;

	if (pthread_mutex_trylock(m) == 0)
		return;
	t0 = now_ns();
	pthread_mutex_lock(m);
	s->ns += now_ns() - t0;
	s->count++;
}

__attribute__((noinline)) static void unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
	keep(0);
}

/* The hot lock: one acquire and one release function per thread. */
__attribute__((noinline)) void acquire_hot_a(void)
{
	counted_lock(&hot, &sites[HOT_A]);
	keep(1);
}

__attribute__((noinline)) void acquire_hot_b(void)
{
	counted_lock(&hot, &sites[HOT_B]);
	keep(2);
}

__attribute__((noinline)) void acquire_hot_c(void)
{
	counted_lock(&hot, &sites[HOT_C]);
	keep(3);
}

__attribute__((noinline)) void release_hot_a(void)
{
	unlock(&hot);
	keep(1);
}

__attribute__((noinline)) void release_hot_b(void)
{
	unlock(&hot);
	keep(2);
}

__attribute__((noinline)) void release_hot_c(void)
{
	unlock(&hot);
	keep(3);
}

struct hot_fns {
	const char *name;
	void (*acquire)(void);
	void (*release)(void);
};

static void *hot_thread(void *arg)
{
	const struct hot_fns *f = arg;

	pthread_setname_np(pthread_self(), f->name);
	while (!stop) {
		f->acquire();
		nap_us(300);
		f->release();
		nap_us(100);
	}
	return NULL;
}

/* The cold lock. */
__attribute__((noinline)) void hog_acquire(void)
{
	counted_lock(&cold, &sites[COLD_HOG]);
	keep(4);
}

__attribute__((noinline)) void hog_release(void)
{
	unlock(&cold);
	keep(4);
}

__attribute__((noinline)) void acquire_cold(void)
{
	counted_lock(&cold, &sites[COLD_WAIT]);
	keep(5);
}

__attribute__((noinline)) void release_cold(void)
{
	unlock(&cold);
	keep(5);
}

static void *cold_hog(void *arg)
{
	pthread_setname_np(pthread_self(), "cold-hog");
	while (!stop) {
		hog_acquire();
		nap_us(5000);
		hog_release();
		nap_us(35000);
	}
	return NULL;
}

static void *cold_waiter(void *arg)
{
	unsigned int seed = 1;

	pthread_setname_np(pthread_self(), "cold-wait");
	while (!stop) {
		acquire_cold();
		nap_us(50);
		release_cold();
		/* Not a fixed period: it would lock into phase with the hog's. */
		nap_us(2000 + rand_r(&seed) % 3000);
	}
	return NULL;
}

/* The rwlock. */
__attribute__((noinline)) void rw_read_site(struct site *s)
{
	long long t0;

	if (pthread_rwlock_tryrdlock(&rw) == 0)
		return;
	t0 = now_ns();
	pthread_rwlock_rdlock(&rw);
	s->ns += now_ns() - t0;
	s->count++;
}

__attribute__((noinline)) void rw_read_release(void)
{
	pthread_rwlock_unlock(&rw);
	keep(6);
}

__attribute__((noinline)) void rw_write_site(struct site *s)
{
	long long t0;

	if (pthread_rwlock_trywrlock(&rw) == 0)
		return;
	t0 = now_ns();
	pthread_rwlock_wrlock(&rw);
	s->ns += now_ns() - t0;
	s->count++;
}

__attribute__((noinline)) void rw_write_release(void)
{
	pthread_rwlock_unlock(&rw);
	keep(7);
}

static void *rw_reader(void *arg)
{
	struct site *s = arg;

	pthread_setname_np(pthread_self(), s == &sites[RW_READ1] ? "rw-reader1" : "rw-reader2");
	while (!stop) {
		rw_read_site(s);
		nap_us(300);
		rw_read_release();
		nap_us(500);
	}
	return NULL;
}

static void *rw_writer(void *arg)
{
	pthread_setname_np(pthread_self(), "rw-writer");
	while (!stop) {
		rw_write_site(&sites[RW_WRITE]);
		nap_us(1000);
		rw_write_release();
		nap_us(4000);
	}
	return NULL;
}

/* The condition variable: every wait is counted (it always waits for a signal). */
__attribute__((noinline)) void cond_wait_site(void)
{
	long long t0 = now_ns();

	pthread_cond_wait(&cond, &cond_mutex);
	sites[COND_WAIT].ns += now_ns() - t0;
	sites[COND_WAIT].count++;
}

__attribute__((noinline)) void cond_signal_site(void)
{
	pthread_cond_signal(&cond);
	keep(8);
}

static void *cond_waiter(void *arg)
{
	pthread_setname_np(pthread_self(), "cond-wait");
	pthread_mutex_lock(&cond_mutex);
	while (!stop) {
		while (!cond_ready && !stop)
			cond_wait_site();
		cond_ready = 0;
	}
	pthread_mutex_unlock(&cond_mutex);
	return NULL;
}

static void *cond_signaller(void *arg)
{
	pthread_setname_np(pthread_self(), "cond-signal");
	while (!stop) {
		nap_us(3000);
		pthread_mutex_lock(&cond_mutex);
		cond_ready = 1;
		cond_signal_site();
		pthread_mutex_unlock(&cond_mutex);
	}
	/* The waiter may be waiting again: let it see stop. */
	pthread_mutex_lock(&cond_mutex);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&cond_mutex);
	return NULL;
}

/* The priority-inheritance mutex: the kernel hands it from holder to waiter. */
__attribute__((noinline)) void acquire_pi(struct site *s)
{
	counted_lock(&pi, s);
	keep(9);
}

__attribute__((noinline)) void release_pi(void)
{
	unlock(&pi);
	keep(9);
}

static void *pi_thread(void *arg)
{
	struct site *s = arg;

	pthread_setname_np(pthread_self(), s == &sites[PI_A] ? "pi-a" : "pi-b");
	while (!stop) {
		acquire_pi(s);
		nap_us(400);
		release_pi();
		nap_us(200);
	}
	return NULL;
}

/* futex2: 0 when the call returned, -1 when the kernel has no such call. */
static int timed_syscall(struct site *s, long nr, long a, long b, long c, long d)
{
	long long t0 = now_ns();

	if (syscall(nr, a, b, c, d, 0L, 0L) < 0 && errno == ENOSYS)
		return -1;
	s->ns += now_ns() - t0;
	s->count++;
	return 0;
}

__attribute__((noinline)) int waitv_site(void)
{
	struct waitv_entry v[2] = {
		{ .uaddr = (uintptr_t)&fx_a, .flags = FUTEX2_U32_PRIVATE },
		{ .uaddr = (uintptr_t)&fx_b, .flags = FUTEX2_U32_PRIVATE },
	};

	return timed_syscall(&sites[WAITV], NR_futex_waitv, (long)v, 2, 0, 0);
}

__attribute__((noinline)) int futex2_wait_site(void)
{
	return timed_syscall(&sites[FUTEX2_WAIT], NR_futex_wait, (long)&fx_c, 0, 0xffffffffL,
			     FUTEX2_U32_PRIVATE);
}

__attribute__((noinline)) void wake_waitv_site(void)
{
	syscall(SYS_futex, &fx_b, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	keep(10);
}

__attribute__((noinline)) void futex2_wake_site(void)
{
	syscall(NR_futex_wake, &fx_c, 0xffffffffL, 1, FUTEX2_U32_PRIVATE);
	keep(11);
}

static void *fx_waiter(void *arg)
{
	pthread_setname_np(pthread_self(), "fx-wait");
	while (!stop && waitv_site() == 0 && futex2_wait_site() == 0)
		;
	fx_done = 1;
	return NULL;
}

static void *fx_waker(void *arg)
{
	pthread_setname_np(pthread_self(), "fx-wake");
	while (!fx_done) {
		nap_us(2000);
		wake_waitv_site();
		nap_us(2000);
		futex2_wake_site();
	}
	return NULL;
}

static void *short_nap(void *arg)
{
	nap_us(10000);
	return NULL;
}

/*
 * One futex wait (a join) before the threads start, then a pause: a
 * profiler that launched this process learns of it at its first futex wait
 * and builds its unwind tables (glibc keeps no frame pointers) before the
 * counted contentions begin.
 */
static void settle(void)
{
	pthread_t t;

	pthread_create(&t, NULL, short_nap, NULL);
	pthread_join(t, NULL);
	nap_us(200000);
}

static void report(FILE *f)
{
	int i;

	fprintf(f, "lock hot %p\nlock cold %p\nlock rw %p\nlock cond %p\nlock pi %p\n",
		(void *)&hot, (void *)&cold, (void *)&rw, (void *)&cond, (void *)&pi);
	fprintf(f, "lock fx_b %p\nlock fx_c %p\n", (void *)&fx_b, (void *)&fx_c);
	for (i = 0; i < NSITES; i++)
		fprintf(f, "%s %lld %lld\n", sites[i].name, sites[i].count, sites[i].ns);
}

int main(int argc, char **argv)
{
	static const struct hot_fns hot_fns[] = {
		{ "hot-a", acquire_hot_a, release_hot_a },
		{ "hot-b", acquire_hot_b, release_hot_b },
		{ "hot-c", acquire_hot_c, release_hot_c },
	};
	pthread_mutexattr_t attr;
	pthread_t t[14];
	long long end;
	FILE *f;
	int i, n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SECONDS RESULT\n", argv[0]);
		return 2;
	}
	settle();
	end = now_ns() + (long long)(atof(argv[1]) * 1e9);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&pi, &attr);
	for (i = 0; i < 3; i++)
		pthread_create(&t[n++], NULL, hot_thread, (void *)&hot_fns[i]);
	pthread_create(&t[n++], NULL, cold_hog, NULL);
	pthread_create(&t[n++], NULL, cold_waiter, NULL);
	pthread_create(&t[n++], NULL, rw_writer, NULL);
	pthread_create(&t[n++], NULL, rw_reader, &sites[RW_READ1]);
	pthread_create(&t[n++], NULL, rw_reader, &sites[RW_READ2]);
	pthread_create(&t[n++], NULL, cond_waiter, NULL);
	pthread_create(&t[n++], NULL, cond_signaller, NULL);
	pthread_create(&t[n++], NULL, pi_thread, &sites[PI_A]);
	pthread_create(&t[n++], NULL, pi_thread, &sites[PI_B]);
	pthread_create(&t[n++], NULL, fx_waiter, NULL);
	pthread_create(&t[n++], NULL, fx_waker, NULL);
	fprintf(stderr, "lock hot %p\nlock cold %p\nready %d\n", (void *)&hot, (void *)&cold,
		getpid());
	/* Sleep, not join, through the run: a join would be a futex wait of its own. */
	while (now_ns() < end)
		nap_us(10000);
	stop = 1;
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	report(f);
	fclose(f);
	report(stdout);
	return 0;
}
