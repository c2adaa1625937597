// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capture/thread_record.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static struct thread_record rec(unsigned int state, unsigned int exit_state, unsigned int flags)
{
	return (struct thread_record){ .state = state, .exit_state = exit_state, .flags = flags };
}

static void test_state_names(void **st)
{
	struct thread_record r;

	r = rec(0, 0, THREAD_ON_CPU);
	assert_string_equal(thread_record__state(&r), "running");
	r = rec(0, 0, 0);
	assert_string_equal(thread_record__state(&r), "runnable");
	r = rec(0x1, 0, 0);
	assert_string_equal(thread_record__state(&r), "sleeping");
	/* TASK_FREEZABLE (0x2000) rides along in futex and nanosleep waits. */
	r = rec(0x2001, 0, 0);
	assert_string_equal(thread_record__state(&r), "sleeping");
	r = rec(0x2, 0, 0);
	assert_string_equal(thread_record__state(&r), "disk");
	/* TASK_KILLABLE = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE */
	r = rec(0x102, 0, 0);
	assert_string_equal(thread_record__state(&r), "disk");
	/* TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD: not load, not "disk" */
	r = rec(0x402, 0, 0);
	assert_string_equal(thread_record__state(&r), "idle");
	/* TASK_RTLOCK_WAIT: a sleeping spinlock on PREEMPT_RT, shown as D */
	r = rec(0x1000, 0, 0);
	assert_string_equal(thread_record__state(&r), "disk");
	r = rec(0x4, 0, 0);
	assert_string_equal(thread_record__state(&r), "stopped");
	r = rec(0x8, 0, 0);
	assert_string_equal(thread_record__state(&r), "traced");
	r = rec(0x80, 0x20, 0);
	assert_string_equal(thread_record__state(&r), "zombie");
	r = rec(0x80, 0x10, 0);
	assert_string_equal(thread_record__state(&r), "dead");
	r = rec(0x40, 0, 0);
	assert_string_equal(thread_record__state(&r), "parked");
	r = rec(0x8000, 0, 0);
	assert_string_equal(thread_record__state(&r), "frozen");
}

static void test_state_duration(void **st)
{
	struct thread_record r = rec(0x1, 0, 0);
	uint64_t ns = 0;

	/* Asleep: since it left the CPU, i.e. its arrival plus its last stint. */
	r.now_ns = 100 * SEC;
	r.last_arrival = 40 * SEC;
	r.last_run_ns = 2 * SEC;
	assert_true(thread_record__state_ns(&r, &ns));
	assert_int_equal(ns, 58 * SEC);

	/* A stint that would end after now is not a CFS stint: count from arrival. */
	r.last_run_ns = 70 * SEC;
	assert_true(thread_record__state_ns(&r, &ns));
	assert_int_equal(ns, 60 * SEC);

	/* Running: since it was put on the CPU. */
	r = rec(0, 0, THREAD_ON_CPU);
	r.now_ns = 100 * SEC;
	r.last_arrival = 100 * SEC - 5 * MS;
	r.last_run_ns = 1 * MS;
	assert_true(thread_record__state_ns(&r, &ns));
	assert_int_equal(ns, 5 * MS);

	/* Runnable: since it was queued, not since it last ran. */
	r = rec(0, 0, 0);
	r.now_ns = 100 * SEC;
	r.last_arrival = 10 * SEC;
	r.last_queued = 99 * SEC;
	assert_true(thread_record__state_ns(&r, &ns));
	assert_int_equal(ns, 1 * SEC);
	r.last_queued = 0;
	assert_false(thread_record__state_ns(&r, &ns));

	/* Stamps from another CPU's clock may be a hair ahead of ours. */
	r = rec(0x1, 0, 0);
	r.now_ns = 100 * SEC;
	r.last_arrival = 100 * SEC + 3;
	assert_true(thread_record__state_ns(&r, &ns));
	assert_int_equal(ns, 0);

	/* No stamps (never ran, or a kernel without the fields): unknown. */
	r.last_arrival = 0;
	assert_false(thread_record__state_ns(&r, &ns));
	r.last_arrival = 5;
	r.now_ns = 0;
	assert_false(thread_record__state_ns(&r, &ns));
}

/* Appends a record with nk kernel and nu user addresses to buf at *len. */
static void put(char *buf, size_t *len, __u32 tid, __u16 nk, __u16 nu)
{
	struct thread_record r = { .pid = 7, .tid = tid, .nkern = nk, .nuser = nu };
	__u64 a;
	int i;

	memcpy(buf + *len, &r, sizeof(r));
	*len += sizeof(r);
	for (i = 0; i < nk + nu; i++) {
		a = (i < nk ? 0xffffffff81000000ULL : 0x400000ULL) + tid * 0x100 + i;
		memcpy(buf + *len, &a, sizeof(a));
		*len += sizeof(a);
	}
}

static void test_walk_records(void **st)
{
	static __u64 store[1024]; /* aligned as the records are */
	char *buf = (char *)store;
	const struct thread_record *r;
	const __u64 *k, *u;
	size_t len = 0, off = 0;

	put(buf, &len, 1, 2, 3);
	put(buf, &len, 2, 0, 0);
	put(buf, &len, 3, BPFPROF_MAX_STACK_DEPTH, 1);

	assert_int_equal(thread_record__next(buf, len, &off, &r, &k, &u), 1);
	assert_int_equal(r->tid, 1);
	assert_int_equal(k[0], 0xffffffff81000100ULL);
	assert_int_equal(k[1], 0xffffffff81000101ULL);
	assert_int_equal(u[0], 0x400102ULL);
	assert_int_equal(u[2], 0x400104ULL);
	assert_int_equal(thread_record__next(buf, len, &off, &r, &k, &u), 1);
	assert_int_equal(r->tid, 2);
	assert_int_equal(thread_record__next(buf, len, &off, &r, &k, &u), 1);
	assert_int_equal(r->tid, 3);
	assert_int_equal(u[0], 0x400300ULL + BPFPROF_MAX_STACK_DEPTH);
	assert_int_equal(thread_record__next(buf, len, &off, &r, &k, &u), 0);
	assert_int_equal(off, len);

	/* Every truncation inside a record is malformed, never read past the end. */
	for (size_t cut = 1; cut < len; cut++) {
		int ret, n = 0;

		off = 0;
		while ((ret = thread_record__next(buf, cut, &off, &r, &k, &u)) > 0)
			n++;
		assert_true(ret == 0 || ret == -EINVAL);
		assert_true(off <= cut);
		if (ret == 0)
			assert_int_equal(off, cut);
	}
}

static void test_bad_counts(void **st)
{
	static __u64 store[64];
	struct thread_record r = { .nkern = BPFPROF_MAX_STACK_DEPTH + 1 };
	const struct thread_record *out;
	const __u64 *k, *u;
	size_t off = 0;

	memcpy(store, &r, sizeof(r));
	assert_int_equal(thread_record__next(store, sizeof(store), &off, &out, &k, &u), -EINVAL);
	r.nkern = 0;
	r.nuser = 0xffff;
	memcpy(store, &r, sizeof(r));
	off = 0;
	assert_int_equal(thread_record__next(store, sizeof(store), &off, &out, &k, &u), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_state_duration),
		cmocka_unit_test(test_walk_records),
		cmocka_unit_test(test_bad_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
