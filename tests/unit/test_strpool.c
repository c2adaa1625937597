// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/strpool.h"

static void test_same_string_same_pointer(void **state)
{
	struct strpool *p = strpool__new();
	char buf[] = "vfs_read";
	const char *a, *b;

	assert_non_null(p);
	a = strpool__add(p, buf);
	/* A copy: the caller's buffer may change afterwards. */
	assert_ptr_not_equal(a, buf);
	buf[0] = 'x';
	assert_string_equal(a, "vfs_read");
	b = strpool__add(p, "vfs_read");
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(strpool__add(p, "vfs_write"), a);
	/* Length-delimited input, no NUL needed. */
	assert_ptr_equal(strpool__addn(p, "vfs_read_iter", 8), a);
	assert_string_equal(strpool__addn(p, "ext4]", 4), "ext4");
	assert_string_equal(strpool__add(p, ""), "");
	strpool__free(p);
	strpool__free(NULL);
}

static void test_many_strings_stay_put(void **state)
{
	struct strpool *p = strpool__new();
	enum { N = 20000 };
	const char **ptrs = calloc(N, sizeof(*ptrs));
	char name[32];
	int i;

	assert_non_null(p);
	assert_non_null(ptrs);
	/* Enough to grow the table many times and fill several chunks. */
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "symbol_%d", i);
		ptrs[i] = strpool__add(p, name);
		assert_non_null(ptrs[i]);
	}
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "symbol_%d", i);
		assert_string_equal(ptrs[i], name);
		assert_ptr_equal(strpool__add(p, name), ptrs[i]);
	}
	free(ptrs);
	strpool__free(p);
}

static void test_big_strings(void **state)
{
	struct strpool *p = strpool__new();
	size_t len = 100000;
	char *big = malloc(len + 1);
	const char *small, *a;

	assert_non_null(p);
	assert_non_null(big);
	memset(big, 'x', len);
	big[len] = '\0';
	small = strpool__add(p, "before");
	a = strpool__add(p, big);
	assert_non_null(a);
	assert_int_equal(strlen(a), len);
	assert_ptr_equal(strpool__add(p, big), a);
	/* Small strings still share the chunk in use before the big one. */
	assert_int_equal(strpool__add(p, "after") - small, strlen("before") + 1);
	free(big);
	strpool__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_string_same_pointer),
		cmocka_unit_test(test_many_strings_stay_put),
		cmocka_unit_test(test_big_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
