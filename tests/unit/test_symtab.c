// SPDX-License-Identifier: Apache-2.0
/*
 * The symbolizer's own sorted symbol table against libdw's
 * dwfl_module_addrinfo (which it replaced for speed): over every function
 * symbol of real files, at the start, the middle and the last byte of each,
 * both must name the same function (or two names of one address).
 */
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbolize/elf.h"

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

/* The start address libdw gives the symbol named name, or 0 when there is none. */
static GElf_Addr addr_of(Dwfl_Module *mod, const char *name, GElf_Addr near)
{
	int i, n = dwfl_module_getsymtab(mod);
	GElf_Addr best = 0;

	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *s = dwfl_module_getsym(mod, i, &sym, NULL);

		if (!s || strcmp(s, name))
			continue;
		addr = sym.st_value;
		if (!best || (addr <= near && addr > best))
			best = addr;
	}
	return best;
}

static int compare_file(const char *path, size_t *checked)
{
	struct symcache *c = symcache__new();
	struct sym_file *f;
	Dwfl *dwfl = dwfl_begin(&callbacks);
	Dwfl_Module *mod;
	int fd, i, n, bad = 0;
	GElf_Addr bias, span_lo = 0, span_hi = 0;

	assert_non_null(c);
	assert_non_null(dwfl);
	f = symcache__open(c, path);
	if (!f) {
		dwfl_end(dwfl);
		symcache__free(c);
		return -1;
	}
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	dwfl_report_begin(dwfl);
	mod = dwfl_report_elf(dwfl, "x", path, fd, 0, true);
	assert_non_null(mod);
	dwfl_report_end(dwfl, NULL, NULL);
	assert_non_null(dwfl_module_getelf(mod, &bias));
	n = dwfl_module_getsymtab(mod);
	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Word shndx;
		uint64_t probes[3];
		int k, t = 0;

		if (!dwfl_module_getsym(mod, i, &sym, &shndx))
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || shndx == SHN_UNDEF || !sym.st_size)
			continue;
		probes[t++] = sym.st_value;
		probes[t++] = sym.st_value + sym.st_size / 2;
		probes[t++] = sym.st_value + sym.st_size - 1;
		for (k = 0; k < t; k++) {
			GElf_Sym dsym;
			GElf_Off off;
			const char *want, *got;

			want = dwfl_module_addrinfo(mod, probes[k], &off, &dsym, NULL, NULL, NULL);
			got = sym_file__elf_symbol(f, probes[k] - bias);
			(*checked)++;
			if (!want && !got)
				continue;
			if (want && got &&
			    (!strcmp(want, got) ||
			     addr_of(mod, got, probes[k]) == addr_of(mod, want, probes[k])))
				continue;
			if (bad++ < 5)
				print_message("%s: %#lx: libdw says %s, the table %s\n", path,
					      (unsigned long)probes[k], want ? want : "(none)",
					      got ? got : "(none)");
		}
	}
	/* And addresses anywhere in the file's code, gaps and padding included. */
	for (i = 0; i < 3000; i++) {
		GElf_Sym dsym;
		GElf_Off off;
		GElf_Addr lo = UINT64_MAX, hi = 0;
		const char *want, *got;
		uint64_t a;
		int j;

		if (i == 0) {
			for (j = 1; j < n; j++) {
				GElf_Sym sym;
				GElf_Word shndx;

				if (!dwfl_module_getsym(mod, j, &sym, &shndx) ||
				    shndx == SHN_UNDEF || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
					continue;
				lo = sym.st_value < lo ? sym.st_value : lo;
				hi = sym.st_value + sym.st_size > hi ? sym.st_value + sym.st_size
								     : hi;
			}
			span_lo = lo;
			span_hi = hi;
		}
		if (span_hi <= span_lo)
			break;
		a = span_lo + (uint64_t)random() % (span_hi - span_lo);
		want = dwfl_module_addrinfo(mod, a, &off, &dsym, NULL, NULL, NULL);
		got = sym_file__elf_symbol(f, a - bias);
		(*checked)++;
		if ((!want && !got) || (want && got && !strcmp(want, got)))
			continue;
		if (want && got && addr_of(mod, got, a) == addr_of(mod, want, a))
			continue;
		if (bad++ < 5)
			print_message("%s: %#lx: libdw says %s, the table %s\n", path,
				      (unsigned long)a, want ? want : "(none)",
				      got ? got : "(none)");
	}
	dwfl_end(dwfl);
	symcache__free(c);
	return bad;
}

static void test_same_as_libdw(void **state)
{
	/* Files with only .dynsym (Debian's stripped libraries) and with .symtab. */
	static const char *const files[] = {
		"/lib/x86_64-linux-gnu/libc.so.6",
		"/lib/x86_64-linux-gnu/libelf.so.1",
		"/lib/x86_64-linux-gnu/libz.so.1",
		"build/fixtures/symtest",
		"build/bpfprof",
	};
	size_t i, checked = 0, opened = 0;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int bad = compare_file(files[i], &checked);

		if (bad < 0)
			continue;
		opened++;
		assert_int_equal(bad, 0);
	}
	assert_true(opened >= 3);
	assert_true(checked > 1000);
	print_message("%zu addresses in %zu files agree\n", checked, opened);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_libdw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
