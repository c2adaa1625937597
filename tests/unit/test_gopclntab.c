// SPDX-License-Identifier: Apache-2.0
/*
 * Go's .gopclntab against what the same binary's symbol table and DWARF
 * say: the Go workload (when the build had a Go toolchain), and a stripped
 * copy of it, symbolized from the table alone.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gelf.h>

#include "symbolize/elf.h"
#include "elf/gopclntab.h"
#include "nm.h"

#define GOBURN "build/workloads/goburn"

struct fixture {
	int fd;
	Elf *elf;
	struct gopclntab *t;
};

static int setup(void **state)
{
	static struct fixture f;

	f.fd = open(GOBURN, O_RDONLY);
	if (f.fd < 0) {
		*state = NULL;
		return 0; /* no Go toolchain at build time: the tests skip */
	}
	elf_version(EV_CURRENT);
	f.elf = elf_begin(f.fd, ELF_C_READ, NULL);
	f.t = f.elf ? gopclntab__new(f.elf) : NULL;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f) {
		gopclntab__free(f->t);
		elf_end(f->elf);
		close(f->fd);
	}
	return 0;
}

/*
 * The table's name and the ELF symbol's differ in three ways: symbols name
 * assembly functions with their ABI ("runtime.goexit.abi0"), the table
 * leaves array lengths out of generated names ("type..eq.[...]T" for
 * "type..eq.[1]T"), and it writes a closure's dot as a middle dot.
 */
static bool same_function(const char *table, const char *symbol)
{
	while (*table && *symbol) {
		if (!strncmp(table, "[...]", 5) && *symbol == '[') {
			table += 5;
			symbol += strspn(symbol + 1, "0123456789") + 1;
			if (*symbol++ != ']')
				return false;
			continue;
		}
		/* Closures: Go's middle dot in the table, a dot in the symbol. */
		if (!strncmp(table, "\xc2\xb7", 2) && *symbol == '.') {
			table += 2;
			symbol++;
			continue;
		}
		if (*table++ != *symbol++)
			return false;
	}
	return !*table && (!*symbol || !strcmp(symbol, ".abi0"));
}

/* Every function symbol: the table names it at its first and its last byte. */
static void test_names(void **state)
{
	struct fixture *f = *state;
	char line[512], name[256], type;
	unsigned long long addr, size;
	struct gopclntab_pos pos;
	int checked = 0;
	FILE *p;

	if (!f)
		skip();
	assert_non_null(f->t);
	p = popen("nm -S " GOBURN, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%llx %llx %c %255[^\n]", &addr, &size, &type, name) != 4 ||
		    (type != 'T' && type != 't') || !size)
			continue;
		assert_true(gopclntab__lookup(f->t, addr, &pos));
		if (!same_function(pos.function, name))
			fail_msg("0x%llx: table says %s, symbol %s", addr, pos.function, name);
		assert_true(gopclntab__lookup(f->t, addr + size - 1, &pos));
		if (!same_function(pos.function, name))
			fail_msg("0x%llx: table says %s, symbol %s", addr + size - 1, pos.function,
				 name);
		checked++;
	}
	pclose(p);
	assert_true(checked > 1000);
	/* Below the text, and far past it: no function. */
	assert_false(gopclntab__lookup(f->t, 0x1000, &pos));
	assert_false(gopclntab__lookup(f->t, 0x7fffffff0000ULL, &pos));
}

/*
 * Every byte of the workload's own functions: the table's file and line
 * are DWARF's (the symbolizer's answer from the unstripped file).
 */
static void test_lines_match_dwarf(void **state)
{
	struct fixture *f = *state;
	struct sym_frame frames[8];
	struct gopclntab_pos pos;
	char line[512], name[256], type;
	unsigned long long addr, size, a;
	struct symcache *c;
	struct sym_file *sf;
	struct stat st;
	int n, checked = 0;
	FILE *p;

	if (!f)
		skip();
	c = symcache__new();
	assert_non_null(c);
	assert_int_equal(stat(GOBURN, &st), 0);
	sf = symcache__open(c, GOBURN);
	assert_non_null(sf);
	p = popen("nm -S " GOBURN, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%llx %llx %c %255[^\n]", &addr, &size, &type, name) != 4 ||
		    (type != 'T' && type != 't') || strncmp(name, "main.", 5))
			continue;
		for (a = addr; a < addr + size; a++) {
			if (!gopclntab__lookup(f->t, a, &pos))
				fail_msg("0x%llx in %s: not in the table", a, name);
			n = sym_file__lookup(sf, a, frames, 8);
			assert_true(n > 0);
			assert_string_equal(pos.function, frames[n - 1].function);
			assert_non_null(pos.file);
			assert_string_equal(pos.file, frames[0].file);
			if (pos.line != frames[0].line)
				fail_msg("0x%llx in %s: table line %d, DWARF %d", a, name, pos.line,
					 frames[0].line);
			checked++;
		}
	}
	pclose(p);
	assert_true(checked > 500);
	symcache__free(c);
}

/* A stripped copy: no symbols, no DWARF, and still every name and line. */
static void test_stripped(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/bpfprof-goburn-XXXXXX", cmd[256];
	struct sym_frame frames[8], want[8];
	struct symcache *c;
	struct sym_file *full, *stripped;
	struct stat st, st_full;
	uint64_t a, start, end;
	int fd, n;

	if (!f)
		skip();
	nm_symbol_range(GOBURN, "main.run", &start, &end);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "objcopy --strip-all %s %s", GOBURN, path);
	assert_int_equal(system(cmd), 0);
	c = symcache__new();
	assert_non_null(c);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(stat(GOBURN, &st_full), 0);
	stripped = symcache__open(c, path);
	full = symcache__open(c, GOBURN);
	assert_non_null(stripped);
	assert_non_null(full);
	assert_false(sym_file__has_dwarf(stripped));
	assert_true(sym_file__has_symbols(stripped));
	assert_true(sym_file__has_lines(stripped));
	/* main.run, byte by byte: the function and the innermost line, as with DWARF. */
	for (a = start; a < end; a++) {
		n = sym_file__lookup(stripped, a, frames, 8);
		assert_int_equal(n, 1);
		assert_true(sym_file__lookup(full, a, want, 8) > 0);
		assert_string_equal(frames[0].function, "main.run");
		assert_string_equal(frames[0].file, want[0].file);
		assert_int_equal(frames[0].line, want[0].line);
	}
	symcache__free(c);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_lines_match_dwarf),
		cmocka_unit_test(test_stripped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
