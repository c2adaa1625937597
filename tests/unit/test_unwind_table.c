// SPDX-License-Identifier: Apache-2.0
/*
 * Unwind tables built from the CFI of fixtures with known frames, of libc,
 * and of the Go workload (.debug_frame) when it was built.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nm.h"
#include "unwind/table.h"

#define FIXTURE "build/fixtures/cfitest"
#define MIXED "build/fixtures/cfimixed"
#define GOBURN "build/workloads/goburn"

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

/*
 * A binary whose C half has .eh_frame and whose other half only
 * .debug_frame, as a Go binary linked with cgo: both halves get rows.
 */
static void test_eh_frame_and_debug_frame(void **state)
{
	struct unwind_table t;
	const struct unwind_row *r;
	uint64_t eh = symbol(MIXED, "eh_leaf"), leaf = symbol(MIXED, "df_leaf");
	uint64_t framed = symbol(MIXED, "df_framed");
	bool rbp_based = false;

	build(MIXED, &t);
	r = unwind_table__find(&t, eh);
	assert_int_equal(r->cfa, UNWIND_RSP);
	assert_int_equal(r->cfa_off, 8);
	r = unwind_table__find(&t, leaf);
	assert_int_equal(r->cfa, UNWIND_RSP);
	assert_int_equal(r->cfa_off, 8);
	r = unwind_table__find(&t, framed + 1);
	assert_int_equal(r->cfa, UNWIND_RSP);
	assert_int_equal(r->cfa_off, 16);
	assert_int_equal(r->rbp_off, -2);
	for (size_t i = 0; i < t.n; i++)
		if (t.rows[i].pc > framed && t.rows[i].pc < framed + 32 &&
		    t.rows[i].cfa == UNWIND_RBP)
			rbp_based = t.rows[i].cfa_off == 16 && t.rows[i].rbp_off == -2;
	assert_true(rbp_based);
	/* One row per pc, sorted. */
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.rows[i - 1].pc < t.rows[i].pc);
	unwind_table__free(&t);
}

static bool have_goburn(void)
{
	struct stat st;

	return stat(GOBURN, &st) == 0;
}

/*
 * Go: .debug_frame only (compressed), CFA always rsp-based.  main.leaf is a
 * frameless leaf: rsp + 8 over its whole body.
 */
static void test_go_frameless_leaf(void **state)
{
	struct unwind_table t;
	const struct unwind_row *r;
	uint64_t start, end;

	if (!have_goburn())
		skip(); /* no Go toolchain: make builds goburn when go is installed */
	nm_symbol_range(GOBURN, "main.leaf", &start, &end);
	build(GOBURN, &t);
	for (uint64_t pc = start; pc < end; pc++) {
		r = unwind_table__find(&t, pc);
		assert_non_null(r);
		assert_int_equal(r->cfa, UNWIND_RSP);
		assert_int_equal(r->cfa_off, 8);
		assert_int_equal(r->rbp_off, 0);
	}
	unwind_table__free(&t);
}

/* main.direct has a frame: rsp + 8 at entry, rsp + 8 + frame size inside. */
static void test_go_framed(void **state)
{
	struct unwind_table t;
	const struct unwind_row *r;
	uint64_t start, end;
	int framed = 0;

	if (!have_goburn())
		skip();
	nm_symbol_range(GOBURN, "main.direct", &start, &end);
	build(GOBURN, &t);
	r = unwind_table__find(&t, start);
	assert_int_equal(r->cfa, UNWIND_RSP);
	assert_int_equal(r->cfa_off, 8);
	for (uint64_t pc = start; pc < end; pc++) {
		r = unwind_table__find(&t, pc);
		assert_int_equal(r->cfa, UNWIND_RSP);
		assert_true(r->cfa_off >= 8 && r->cfa_off % 8 == 0);
		framed += r->cfa_off > 8;
	}
	assert_true(framed > 0);
	/* Go describes the CFA by rsp only, everywhere; only huge frames don't fit. */
	for (size_t i = 0; i < t.n; i++)
		assert_true(t.rows[i].cfa == UNWIND_RSP || t.rows[i].cfa == UNWIND_NONE);
	assert_true(t.nfdes > 1000);
	assert_true(t.nunsupported * 100 < t.n);
	unwind_table__free(&t);
}

/* objcopy makes the section plain or ".zdebug_frame": the same table. */
static void test_go_compressed_forms(void **state)
{
	const char *forms[] = { "--decompress-debug-sections",
				"--compress-debug-sections=zlib-gnu" };
	char dir[] = "/tmp/bpfprof-unwind.XXXXXX", path[128], cmd[512];
	struct unwind_table go, t;

	if (!have_goburn())
		skip();
	assert_non_null(mkdtemp(dir));
	build(GOBURN, &go);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(path, sizeof(path), "%s/goburn-%zu", dir, i);
		snprintf(cmd, sizeof(cmd), "objcopy %s %s %s", forms[i], GOBURN, path);
		assert_int_equal(system(cmd), 0);
		if (strstr(forms[i], "zlib-gnu")) {
			snprintf(cmd, sizeof(cmd), "readelf -S %s | grep -q '\\.zdebug_frame'",
				 path);
			assert_int_equal(system(cmd), 0);
		}
		build(path, &t);
		assert_int_equal(t.n, go.n);
		assert_memory_equal(t.rows, go.rows, t.n * sizeof(*t.rows));
		unwind_table__free(&t);
		unlink(path);
	}
	unwind_table__free(&go);
	rmdir(dir);
}

/*
 * A stripped copy (no .debug_frame): the frames come from .gopclntab's
 * pc-to-SP-delta tables, and give the rule .debug_frame gives at every pc
 * of the program's functions, and at every function start of the runtime.
 */
static void test_go_stripped(void **state)
{
	char dir[] = "/tmp/bpfprof-unwind.XXXXXX", path[128], cmd[512], line[512], name[256], type;
	const struct unwind_row *want, *got;
	struct unwind_table go, t;
	unsigned long long addr, size;
	int compared = 0;
	FILE *p;

	if (!have_goburn())
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/goburn-stripped", dir);
	snprintf(cmd, sizeof(cmd), "objcopy --strip-all %s %s", GOBURN, path);
	assert_int_equal(system(cmd), 0);
	build(GOBURN, &go);
	build(path, &t);
	assert_true(t.nfdes > 1000);
	p = popen("nm -S " GOBURN, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%llx %llx %c %255[^\n]", &addr, &size, &type, name) != 4 ||
		    (type != 'T' && type != 't'))
			continue;
		for (uint64_t pc = addr; pc < addr + (strncmp(name, "main.", 5) ? 1 : size); pc++) {
			want = unwind_table__find(&go, pc);
			got = unwind_table__find(&t, pc);
			assert_non_null(want);
			assert_non_null(got);
			if (want->cfa != got->cfa || want->cfa_off != got->cfa_off ||
			    want->rbp_off != got->rbp_off)
				fail_msg("%s+0x%llx: .debug_frame cfa %d+%d, .gopclntab cfa %d+%d",
					 name, (unsigned long long)(pc - addr), want->cfa,
					 want->cfa_off, got->cfa, got->cfa_off);
			compared++;
		}
	}
	pclose(p);
	assert_true(compared > 1500);
	unwind_table__free(&go);
	unwind_table__free(&t);
	unlink(path);
	rmdir(dir);
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
		cmocka_unit_test(test_eh_frame_and_debug_frame),
		cmocka_unit_test(test_go_frameless_leaf),
		cmocka_unit_test(test_go_framed),
		cmocka_unit_test(test_go_compressed_forms),
		cmocka_unit_test(test_go_stripped),
		cmocka_unit_test(test_not_elf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
