// SPDX-License-Identifier: Apache-2.0
/*
 * Unwind tables of generated code: rows from a runtime's .eh_frame, a
 * process's functions replaced, moved and forgotten, and jitdump's
 * UNWINDING_INFO handed to the code load that follows it.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpfprof/types.h"
#include "unwind/jitcode.h"
#include "unwind/table.h"

#define CODE_SIZE 26 /* nofp_jit's function: push, sub 16, ..., add 16, pop, ret */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/*
 * The .eh_frame of that function at code_addr, as it lies at eh_addr: a
 * CIE (pc-relative FDE pointers) and one FDE.  Returns its size.
 */
static size_t eh_frame(uint8_t *p, uint64_t eh_addr, uint64_t code_addr)
{
	static const uint8_t cie[] = {
		0x14, 0,    0,	0, 0,	 0,    0, 0, 1,	   'z', 'R', 0,
		1,    0x78, 16, 1, 0x1b, 0x0c, 7, 8, 0x90, 1,	0,   0,
	};
	static const uint8_t insns[] = {
		0x41, 0x0e, 16,	  0x86, 2, 0x44, 0x0e, 32, 0x53, 0x0e, 16, 0x41,
		0x0e, 8,    0xc6, 0,	0, 0,	 0,    0,  0,	 0,    0,
	};
	size_t n = sizeof(cie);

	memcpy(p, cie, n);
	put32(p + n, 13 + sizeof(insns));
	put32(p + n + 4, n + 4);
	put32(p + n + 8, (uint32_t)(code_addr - (eh_addr + n + 8)));
	put32(p + n + 12, CODE_SIZE);
	p[n + 16] = 0;
	memcpy(p + n + 17, insns, sizeof(insns));
	n += 17 + sizeof(insns);
	put32(p + n, 0);
	return n + 4;
}

/* Where the runtime puts it: after the code, 8-byte aligned. */
#define EH_AT(code) ((code) + ((CODE_SIZE + 7) & ~7))

static void expect_row(const struct unwind_row *r, uint32_t pc, int cfa, int off, int rbp)
{
	assert_int_equal(r->pc, pc);
	assert_int_equal(r->cfa, cfa);
	if (cfa != UNWIND_NONE) {
		assert_int_equal(r->cfa_off, off);
		assert_int_equal(r->rbp_off, rbp);
	}
}

/* The function's rows from pc 0 (relative to the code), as its CFI says. */
static void expect_function(const struct unwind_row *r, uint32_t at)
{
	expect_row(&r[0], at + 0, UNWIND_RSP, 8, 0);
	expect_row(&r[1], at + 1, UNWIND_RSP, 16, -2);
	expect_row(&r[2], at + 5, UNWIND_RSP, 32, -2);
	expect_row(&r[3], at + 24, UNWIND_RSP, 16, -2);
	expect_row(&r[4], at + 25, UNWIND_RSP, 8, 0);
	expect_row(&r[5], at + 26, UNWIND_NONE, 0, 0);
}

static void test_rows_from_eh_frame(void **state)
{
	uint64_t code = 0x7f1234561000ULL;
	struct unwind_table t;
	uint8_t eh[128];
	size_t n = eh_frame(eh, EH_AT(code), code);

	assert_int_equal(unwind_table__from_eh_frame(eh, n, EH_AT(code), code, CODE_SIZE, &t), 0);
	assert_int_equal(t.n, 6);
	expect_function(t.rows, 0);
	unwind_table__free(&t);
	/* Read at the wrong place, its pc-relative pointer points elsewhere: no table. */
	assert_int_equal(
		unwind_table__from_eh_frame(eh, n, EH_AT(code) + 4096, code, CODE_SIZE, &t),
		-ENOENT);
	/* Garbage. */
	memset(eh, 0xff, sizeof(eh));
	assert_int_equal(unwind_table__from_eh_frame(eh, 64, EH_AT(code), code, CODE_SIZE, &t),
			 -ENOENT);
}

static int keep_all(void *ctx, uint64_t start, uint64_t end)
{
	return 1;
}

/* Keeps what is below *ctx, forgets the rest (unmapped). */
static int keep_below(void *ctx, uint64_t start, uint64_t end)
{
	return end <= *(uint64_t *)ctx ? 1 : -1;
}

static void load(struct jitcode *c, uint64_t code)
{
	uint8_t eh[128];
	size_t n = eh_frame(eh, EH_AT(code), code);

	jitcode__load(c, code, CODE_SIZE, eh, n);
}

static void test_functions(void **state)
{
	uint64_t a = 0x7f0000021000ULL, b = a + 0x100, moved = a + 0x20000, base, limit;
	struct jitcode *c = jitcode__new();
	struct jitcode_stats st;
	struct unwind_table t;

	assert_non_null(c);
	assert_int_equal(jitcode__table(c, keep_all, NULL, &base, &t), -ENOENT);
	load(c, a);
	load(c, b);
	jitcode__stats(c, &st);
	assert_int_equal(st.funcs, 2);
	assert_int_equal(st.rows, 12);
	assert_int_equal(jitcode__table(c, keep_all, NULL, &base, &t), 0);
	assert_int_equal(base, 0x7f0000020000ULL);
	assert_int_equal(t.n, 12);
	expect_function(t.rows, 0x1000);
	expect_function(t.rows + 6, 0x1100);
	unwind_table__free(&t);

	/* New code without a table over a: a's rows go (frame pointers there now). */
	jitcode__load(c, a + 8, 64, NULL, 0);
	jitcode__stats(c, &st);
	assert_int_equal(st.funcs, 1);
	assert_int_equal(st.replaced, 1);

	/* b moves: its rows follow it. */
	jitcode__move(c, b, moved, CODE_SIZE);
	assert_int_equal(jitcode__table(c, keep_all, NULL, &base, &t), 0);
	assert_int_equal(base, 0x7f0000040000ULL);
	assert_int_equal(t.n, 6);
	expect_function(t.rows, 0x1000);
	unwind_table__free(&t);

	/* A table that does not describe its code is counted, not kept. */
	jitcode__load(c, a, CODE_SIZE, (const uint8_t *)"\0\0\0\0", 4);
	jitcode__stats(c, &st);
	assert_int_equal(st.bad_tables, 1);
	assert_int_equal(st.funcs, 1);

	/* Unmapped: forgotten. */
	load(c, a);
	limit = a + 0x1000;
	assert_int_equal(jitcode__table(c, keep_below, &limit, &base, &t), 0);
	assert_int_equal(t.n, 6);
	unwind_table__free(&t);
	jitcode__stats(c, &st);
	assert_int_equal(st.funcs, 1);
	limit = 0;
	assert_int_equal(jitcode__table(c, keep_below, &limit, &base, &t), -ENOENT);
	jitcode__stats(c, &st);
	assert_int_equal(st.funcs, 0);
	assert_int_equal(st.rows, 0);
	jitcode__free(c);
}

/* A jitdump as a runtime writes it: UNWINDING_INFO before each CODE_LOAD. */
struct dump {
	uint8_t buf[4096];
	size_t len;
};

static void add(struct dump *d, const void *p, size_t n)
{
	assert_true(d->len + n <= sizeof(d->buf));
	memcpy(d->buf + d->len, p, n);
	d->len += n;
}

static void add64(struct dump *d, uint64_t v)
{
	add(d, &v, 8);
}

static void record(struct dump *d, uint32_t id, size_t body)
{
	uint32_t h[2] = { id, (uint32_t)(16 + body) };

	add(d, h, 8);
	add64(d, 1);
}

static void dump_load(struct dump *d, uint64_t code, bool unwind)
{
	uint8_t eh[128], zero[CODE_SIZE + 2] = { 0 };
	size_t n = eh_frame(eh, EH_AT(code), code);

	if (unwind) {
		/* A header after the .eh_frame, as perf's genelf splits them: 8 bytes here. */
		record(d, 4, 24 + n + 8);
		add64(d, n + 8);
		add64(d, 8);
		add64(d, n + 8);
		add(d, eh, n);
		add64(d, 0);
	}
	record(d, 0, 40 + 4 + CODE_SIZE + 2);
	add64(d, 7);
	add64(d, code);
	add64(d, code);
	add64(d, CODE_SIZE);
	add64(d, 1);
	add(d, "fn\0", 4);
	add(d, zero, CODE_SIZE + 2);
}

static void write_dump(const char *path, const struct dump *d)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(d->buf, 1, d->len, fp), d->len);
	assert_int_equal(fclose(fp), 0);
}

static void test_jitdump_records(void **state)
{
	char dir[] = "/tmp/bpfprof-unwind-jit-XXXXXX", path[PATH_MAX];
	uint64_t a = 0x7f0000021000ULL, b = a + 0x100, base;
	struct jitcode *c = jitcode__new();
	struct jitcode_stats st;
	struct unwind_table t;
	struct dump d = { .len = 0 };
	uint32_t hdr[4] = { 0x4A695444, 1, 40, 62 };

	assert_non_null(c);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/jit-7.dump", dir);
	add(&d, hdr, sizeof(hdr));
	add64(&d, 7);
	add64(&d, 1);
	add64(&d, 0);
	dump_load(&d, a, true);
	dump_load(&d, b, false);
	write_dump(path, &d);
	assert_int_equal(jitcode__read(c, NULL, path), 1);
	jitcode__stats(c, &st);
	assert_int_equal(st.loads, 2);
	assert_int_equal(st.funcs, 1); /* b had no UNWINDING_INFO before it */
	assert_int_equal(jitcode__table(c, keep_all, NULL, &base, &t), 0);
	expect_function(t.rows, 0x1000);
	unwind_table__free(&t);
	/* Nothing new. */
	assert_int_equal(jitcode__read(c, NULL, path), 0);
	/* Appended: code without a table loaded over a. */
	dump_load(&d, a, false);
	write_dump(path, &d);
	assert_int_equal(jitcode__read(c, NULL, path), 1);
	jitcode__stats(c, &st);
	assert_int_equal(st.funcs, 0);
	/* Replaced by a shorter file: read from its start. */
	d.len = 40;
	dump_load(&d, b, true);
	write_dump(path, &d);
	assert_int_equal(jitcode__read(c, NULL, path), 1);
	assert_int_equal(jitcode__table(c, keep_all, NULL, &base, &t), 0);
	expect_function(t.rows, 0x1100);
	unwind_table__free(&t);
	jitcode__free(c);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_from_eh_frame),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_jitdump_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
