// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/watchdog.h"
#include "proc/stat.h"

/* The state letter and start time of pid from /proc/PID/stat; 0 when gone. */
static char proc_state(pid_t pid, unsigned long long *start)
{
	struct proc_stat st;

	if (!proc_stat_read(pid, &st))
		return 0;
	if (start)
		*start = st.start;
	return st.state;
}

/* Waits up to 2 s for pid to be in state want (or not in it). */
static bool wait_state(pid_t pid, char want, bool in)
{
	int i;

	for (i = 0; i < 200; i++) {
		if ((proc_state(pid, NULL) == want) == in)
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * Never outlive the test, nor hold its output open: a failed assertion
 * leaves the test before end_pair, and a process pausing with the test's
 * stdout would keep the runner waiting for EOF forever.
 */
static void detach_from_test(void)
{
	int null = open("/dev/null", O_WRONLY);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		close(null);
	}
}

/* A child that starts a grandchild, prints its pid on fd, then both sleep. */
static pid_t spawn_pair(pid_t *grandchild)
{
	int fds[2];
	pid_t pid, g;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		detach_from_test();
		close(fds[0]);
		g = fork();
		if (g == 0) {
			detach_from_test();
			for (;;)
				pause();
		}
		if (write(fds[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], grandchild, sizeof(*grandchild)), sizeof(*grandchild));
	close(fds[0]);
	return pid;
}

static void end_pair(pid_t child, pid_t grandchild)
{
	kill(grandchild, SIGKILL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* A tree root and a process below it, both stopped: both continued. */
static void test_resume_tree(void **state)
{
	struct watchdog_entry e = { .kind = WATCHDOG_TREE };
	pid_t child, grandchild, resumed[4];

	child = spawn_pair(&grandchild);
	e.pid = child;
	/* Just forked, it may still be running on its way to pause(). */
	assert_true(wait_state(child, 'S', true));
	assert_int_equal(proc_state(child, &e.start), 'S');
	kill(grandchild, SIGSTOP);
	kill(child, SIGSTOP);
	assert_true(wait_state(child, 'T', true));
	assert_true(wait_state(grandchild, 'T', true));
	assert_int_equal(watchdog__resume(&e, 1, resumed, 4), 2);
	assert_true(wait_state(child, 'T', false));
	assert_true(wait_state(grandchild, 'T', false));

	/* A reused pid (another start time) is left alone. */
	kill(child, SIGSTOP);
	assert_true(wait_state(child, 'T', true));
	e.start++;
	assert_int_equal(watchdog__resume(&e, 1, resumed, 4), 0);
	assert_int_equal(proc_state(child, NULL), 'T');
	/* Not a tree: the process itself, not below it. */
	e.start--;
	e.kind = WATCHDOG_OURS;
	kill(grandchild, SIGSTOP);
	assert_true(wait_state(grandchild, 'T', true));
	assert_int_equal(watchdog__resume(&e, 1, resumed, 4), 1);
	assert_int_equal(resumed[0], child);
	assert_int_equal(proc_state(grandchild, NULL), 'T');
	kill(grandchild, SIGCONT);
	end_pair(child, grandchild);
}

/*
 * The watchdog process: bpfprof gone without a word (its socket closed),
 * what it stopped runs on; after watchdog__stop it touches nothing.
 */
static void test_watchdog_process(void **state)
{
	struct watchdog w;
	pid_t child, grandchild, wpid;
	int i;

	for (i = 0; i < 2; i++) {
		child = spawn_pair(&grandchild);
		watchdog__init(&w);
		assert_int_equal(watchdog__start(&w), 0);
		wpid = w.pid;
		watchdog__watch(&w, WATCHDOG_TREE, child);
		kill(grandchild, SIGSTOP);
		assert_true(wait_state(grandchild, 'T', true));
		if (i == 0) {
			watchdog__forget(&w); /* as a SIGKILL would */
			assert_true(wait_state(grandchild, 'T', false));
			waitpid(wpid, NULL, 0);
		} else {
			watchdog__stop(&w);
			assert_int_equal(waitpid(wpid, NULL, WNOHANG), -1); /* reaped */
			usleep(100000);
			assert_int_equal(proc_state(grandchild, NULL), 'T');
			kill(grandchild, SIGCONT);
		}
		end_pair(child, grandchild);
	}
}

/* The fields of our own stat line, against what the process knows of itself. */
static void test_stat_self(void **state)
{
	struct proc_stat st;

	assert_true(proc_stat_read(getpid(), &st));
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.pgrp, getpgrp());
	assert_true(st.tpgid == -1 || st.tpgid > 0);
	assert_true(st.start > 0);
	assert_false(proc_stat_read(0x3fffffff, &st));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_self),
		cmocka_unit_test(test_resume_tree),
		cmocka_unit_test(test_watchdog_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
