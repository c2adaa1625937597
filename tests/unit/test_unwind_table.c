// SPDX-License-Identifier: Apache-2.0
/* Unwind tables built from the CFI of a fixture with known frames, and of libc. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unwind/table.h"

#define FIXTURE "build/fixtures/cfitest"

/* The ELF address of a symbol, from nm. */
static uint64_t symbol(const char *file, const char *name)
{
	char cmd[256], line[256], sym[128], type;
	unsigned long long addr;
	uint64_t found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm %s", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%llx %c %127s", &addr, &type, sym) == 3 && !strcmp(sym, name))
			found = addr;
	pclose(p);
	assert_true(found != 0);
	return found;
}

static void build(const char *path, struct unwind_table *t)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(unwind_table__build(fd, t), 0);
	close(fd);
}

static void test_leaf(void **state)
{
	struct unwind_table t;
	const struct unwind_row *r;
	uint64_t leaf = symbol(FIXTURE, "cfi_leaf");

	build(FIXTURE, &t);
	r = unwind_table__find(&t, leaf);
	assert_non_null(r);
	assert_int_equal(r->cfa, UNWIND_RSP);
	assert_int_equal(r->cfa_off, 8);
	assert_int_equal(r->rbp_off, 0);
	unwind_table__free(&t);
}

static void test_frame_pointer(void **state)
{
	struct unwind_table t;
	const struct unwind_row *r;
	uint64_t fn = symbol(FIXTURE, "cfi_framed");

	bool rbp_based = false;
	size_t i;

	build(FIXTURE, &t);
	/* Entry: only the return address is on the stack. */
	r = unwind_table__find(&t, fn);
	assert_int_equal(r->cfa, UNWIND_RSP);
	assert_int_equal(r->cfa_off, 8);
	/* After push %rbp (1 byte): rsp + 16, the caller's rbp at CFA - 16. */
	r = unwind_table__find(&t, fn + 1);
	assert_int_equal(r->cfa, UNWIND_RSP);
	assert_int_equal(r->cfa_off, 16);
	assert_int_equal(r->rbp_off, -2);
	/* After mov %rsp,%rbp (where the scheduler put it): rbp + 16. */
	for (i = 0; i < t.n; i++) {
		r = &t.rows[i];
		if (r->pc > fn && r->pc < fn + 32 && r->cfa == UNWIND_RBP) {
			assert_int_equal(r->cfa_off, 16);
			assert_int_equal(r->rbp_off, -2);
			rbp_based = true;
		}
	}
	assert_true(rbp_based);
	unwind_table__free(&t);
}

static void test_gap_between_functions(void **state)
{
	struct unwind_table t;
	const struct unwind_row *r;

	build(FIXTURE, &t);
	/* Before any function there is no row; the last row ends the table with no CFI. */
	assert_null(unwind_table__find(&t, 0));
	r = &t.rows[t.n - 1];
	assert_int_equal(r->cfa, UNWIND_NONE);
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.rows[i - 1].pc < t.rows[i].pc);
	unwind_table__free(&t);
}

static void test_libc(void **state)
{
	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	struct unwind_table t;

	build(libc, &t);
	assert_true(t.nfdes > 1000);
	/* Almost every row is expressible; the rest are rare DWARF expressions. */
	assert_true(t.nunsupported * 100 < t.n);
	unwind_table__free(&t);
}

static void test_not_elf(void **state)
{
	struct unwind_table t;
	int fd = open("tests/fixtures/kallsyms", O_RDONLY);

	assert_true(fd >= 0);
	assert_true(unwind_table__build(fd, &t) < 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf),
		cmocka_unit_test(test_frame_pointer),
		cmocka_unit_test(test_gap_between_functions),
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_not_elf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
