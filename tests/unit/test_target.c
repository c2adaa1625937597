// SPDX-License-Identifier: Apache-2.0
/* The -p list parser and the search for a command to launch: what they refuse, and how. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/target.h"

static int add_pids(const char *arg, int *npids)
{
	struct target t;
	int err;

	target__init(&t);
	err = target__add_pids(&t, arg);
	*npids = t.npids;
	return err;
}

static void test_pid_list(void **state)
{
	int n;

	assert_int_equal(add_pids("1234", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(add_pids("1,2,3", &n), 0);
	assert_int_equal(n, 3);
	/* An empty word is a typo, not one pid fewer. */
	assert_int_equal(add_pids("1234,", &n), -EINVAL);
	assert_int_equal(add_pids(",1234", &n), -EINVAL);
	assert_int_equal(add_pids("1,,2", &n), -EINVAL);
	assert_int_equal(add_pids(",", &n), -EINVAL);
	assert_int_equal(add_pids("", &n), -EINVAL);
	assert_int_equal(add_pids("1,x", &n), -EINVAL);
	assert_int_equal(add_pids("0", &n), -EINVAL);
}

/* A script without its execute bit is EACCES, by path or through $PATH, as execvp() says. */
static void test_resolve_not_executable(void **state)
{
	char dir[] = "/tmp/test_target.XXXXXX", path[PATH_MAX], buf[PATH_MAX], *old;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/script.sh", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

	assert_int_equal(target__resolve_command(path, buf, sizeof(buf)), -EACCES);
	setenv("PATH", dir, 1);
	assert_int_equal(target__resolve_command("script.sh", buf, sizeof(buf)), -EACCES);
	assert_int_equal(target__resolve_command("no-such-command", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(target__resolve_command("script.sh", buf, sizeof(buf)), 0);
	assert_string_equal(buf, path);
	snprintf(path, sizeof(path), "%s/missing.sh", dir);
	assert_int_equal(target__resolve_command(path, buf, sizeof(buf)), -ENOENT);

	if (old)
		setenv("PATH", old, 1);
	free(old);
	snprintf(path, sizeof(path), "%s/script.sh", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pid_list),
		cmocka_unit_test(test_resolve_not_executable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
