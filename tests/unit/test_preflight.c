// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/preflight.h"

/* The unit tests run on the host, as bpfprof must. */
static void test_host_namespace(void **state)
{
	bool host = false;

	assert_int_equal(preflight_pidns_is_host("/proc/self/ns/pid", &host), 0);
	assert_true(host);
}

/* Exit status of a child: 0 when a new pid namespace is not the host's and its parent's is. */
static int child_in_new_namespace(void)
{
	bool parent = false;
	int status = -1;
	pid_t pid;

	if (unshare(CLONE_NEWPID))
		return errno == EPERM ? 77 : 1;
	/* unshare moves the children to come: the first one is pid 1 of the new namespace. */
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		bool host = true;

		_exit(preflight_pidns_is_host("/proc/self/ns/pid", &host) || host ? 3 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 4;
	if (preflight_pidns_is_host("/proc/self/ns/pid", &parent) || !parent)
		return 5;
	return WEXITSTATUS(status);
}

static void test_other_namespace(void **state)
{
	int status = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_in_new_namespace());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no CAP_SYS_ADMIN to make a namespace */
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_unreadable(void **state)
{
	bool host = false;

	assert_int_equal(preflight_pidns_is_host("/proc/self/ns/no-such-namespace", &host),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_namespace),
		cmocka_unit_test(test_other_namespace),
		cmocka_unit_test(test_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
