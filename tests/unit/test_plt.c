// SPDX-License-Identifier: Apache-2.0
/* PLT stub names checked against objdump's labels for the same binary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/plt.h"

#define FIXTURE "build/fixtures/cfitest"

/* Every "<name@plt>" label objdump prints for path; returns how many were checked. */
static int check_binary(const char *path)
{
	char line[512], want[256], got[256], cmd[300];
	unsigned long long addr;
	int fd, checked = 0;
	Elf *elf;
	FILE *p;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	snprintf(cmd, sizeof(cmd), "objdump -d %s", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	/* Lines such as "0000000000001030 <printf@plt>:" */
	while (fgets(line, sizeof(line), p)) {
		size_t n;

		if (sscanf(line, "%llx <%255[^>]>:", &addr, want) != 2)
			continue;
		/* Only stubs: not "<printf@plt-0x10>", the resolver entry before them. */
		n = strlen(want);
		if (n < 5 || strcmp(want + n - 4, "@plt"))
			continue;
		assert_int_equal(plt_name(elf, addr, got, sizeof(got)), 0);
		assert_string_equal(got, want);
		/* Anywhere inside the stub (8 bytes at least) names it too. */
		assert_int_equal(plt_name(elf, addr + 7, got, sizeof(got)), 0);
		assert_string_equal(got, want);
		checked++;
	}
	pclose(p);
	/* Not a stub: address 0. */
	assert_int_equal(plt_name(elf, 0, got, sizeof(got)), -ENOENT);
	elf_end(elf);
	close(fd);
	return checked;
}

/* .plt and .plt.got stubs of a small -O2 binary. */
static void test_fixture(void **state)
{
	assert_true(check_binary(FIXTURE) >= 2);
}

/* A large distribution binary, built with IBT: its stubs are in .plt.sec. */
static void test_git(void **state)
{
	if (access("/usr/bin/git", R_OK))
		skip();
	assert_true(check_binary("/usr/bin/git") > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_git),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
