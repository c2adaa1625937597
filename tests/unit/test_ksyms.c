// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbolize/kernel.h"

#define KALLSYMS "tests/fixtures/kallsyms"

static int setup(void **state)
{
	struct ksyms *ks = ksyms__load(KALLSYMS);

	if (!ks)
		return -1;
	*state = ks;
	return 0;
}

static int teardown(void **state)
{
	ksyms__free(*state);
	return 0;
}

static const char *name_at(const struct ksyms *ks, uint64_t addr)
{
	const struct ksym *k = ksyms__find(ks, addr);

	return k ? k->name : NULL;
}

static void test_exact_and_inside(void **state)
{
	const struct ksyms *ks = *state;
	const struct ksym *k;

	k = ksyms__find(ks, 0xffffffff816b89f0);
	assert_non_null(k);
	assert_string_equal(k->name, "vfs_read");
	assert_int_equal(k->addr, 0xffffffff816b89f0);
	assert_null(k->module);
	/* Inside a function: the closest symbol below. */
	assert_string_equal(name_at(ks, 0xffffffff816b89f1), "vfs_read");
	assert_string_equal(name_at(ks, 0xffffffff816b968f), "vfs_read");
	assert_string_equal(name_at(ks, 0xffffffff816b9690), "__pfx_ksys_read");
	assert_string_equal(name_at(ks, 0xffffffff821f8600), "__schedule");
	assert_string_equal(name_at(ks, 0xffffffff813a2390), "finish_task_switch.isra.0");
	assert_string_equal(name_at(ks, 0xffffffff81207611), "abort");
}

static void test_below_lowest(void **state)
{
	const struct ksyms *ks = *state;

	/* The 'A' symbols at 0 and 0x1000 are not text. */
	assert_null(ksyms__find(ks, 0));
	assert_null(ksyms__find(ks, 0x1000));
	assert_null(ksyms__find(ks, 0xffffffff80ffffff));
}

static void test_skips_non_text(void **state)
{
	const struct ksyms *ks = *state;

	/* D, r, B, b, R, d symbols never answer: the text symbol before them does. */
	assert_string_equal(name_at(ks, 0xffffffff82400000), "schedule_weak_alias");
	assert_string_equal(name_at(ks, 0xffffffff83a00040), "schedule_weak_alias");
	assert_string_equal(name_at(ks, 0xffffffff83b264c8), "schedule_weak_alias");
	assert_string_equal(name_at(ks, 0xffffffffc0a08000), "ext4_fill_super");
	assert_string_equal(name_at(ks, 0xffffffffc0b18000), "nf_ct_get_tuple");
}

static void test_modules(void **state)
{
	const struct ksyms *ks = *state;
	const struct ksym *k;

	k = ksyms__find(ks, 0xffffffffc0a01130);
	assert_non_null(k);
	assert_string_equal(k->name, "ext4_claim_free_clusters");
	assert_string_equal(k->module, "ext4");
	k = ksyms__find(ks, 0xffffffffc0b10000);
	assert_non_null(k);
	assert_string_equal(k->name, "nf_conntrack_in");
	assert_string_equal(k->module, "nf_conntrack");
	k = ksyms__find(ks, 0xffffffffc0201010);
	assert_non_null(k);
	assert_string_equal(k->name, "ftrace_trampoline");
	assert_string_equal(k->module, "__builtin__ftrace");
	/* One module name, stored once. */
	assert_ptr_equal(ksyms__find(ks, 0xffffffffc0a01000)->module,
			 ksyms__find(ks, 0xffffffffc0a02000)->module);
}

static void test_shared_address(void **state)
{
	const struct ksyms *ks = *state;

	/* Four globals at _text: the first without a leading underscore. */
	assert_string_equal(name_at(ks, 0xffffffff81000000), "srso_alias_untrain_ret");
	assert_string_equal(name_at(ks, 0xffffffff81000008), "srso_alias_untrain_ret");
	/* A weak symbol beats a local one at the same address. */
	assert_string_equal(name_at(ks, 0xffffffff821f9500), "schedule_weak_alias");
	assert_string_equal(name_at(ks, 0xffffffff821f94ff), "schedule");
}

static void test_range(void **state)
{
	uint64_t lo, hi;

	ksyms__range(*state, &lo, &hi);
	assert_int_equal(lo, 0xffffffff81000000);
	assert_int_equal(hi, 0xffffffffc0b10400);
}

static void test_by_name(void **state)
{
	uint64_t addr = 0;

	assert_int_equal(ksyms__addr(*state, "vfs_read", &addr), 0);
	assert_int_equal(addr, 0xffffffff816b89f0);
	/* Names that lost their address to a preferred one are still found. */
	assert_int_equal(ksyms__addr(*state, "_stext", &addr), 0);
	assert_int_equal(addr, 0xffffffff81000000);
	assert_int_equal(ksyms__addr(*state, "schedule_local_twin", &addr), 0);
	assert_int_equal(addr, 0xffffffff821f9500);
	assert_int_equal(ksyms__addr(*state, "ext4_fill_super", &addr), 0);
	assert_int_equal(addr, 0xffffffffc0a02000);
	/* Not text, or not there: not found, addr untouched. */
	addr = 7;
	assert_int_equal(ksyms__addr(*state, "__start_rodata", &addr), -ENOENT);
	assert_int_equal(ksyms__addr(*state, "no_such_function", &addr), -ENOENT);
	assert_int_equal(ksyms__addr(*state, "", &addr), -ENOENT);
	assert_int_equal(addr, 7);
	/* Lookups by address are unchanged by the name index. */
	assert_string_equal(name_at(*state, 0xffffffff81000000), "srso_alias_untrain_ret");
}

static void test_hidden_addresses(void **state)
{
	errno = 0;
	assert_null(ksyms__load("tests/fixtures/kallsyms.zero"));
	assert_int_equal(errno, EACCES);
}

static void test_missing_file(void **state)
{
	errno = 0;
	assert_null(ksyms__load("tests/fixtures/no-such-kallsyms"));
	assert_int_equal(errno, ENOENT);
}

static int load_text(const char *text, struct ksyms **ks)
{
	char path[] = "/tmp/test_ksyms.XXXXXX";
	int fd = mkstemp(path), err = 0;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*ks = ksyms__load(path);
	if (!*ks)
		err = -errno;
	unlink(path);
	return err;
}

static void test_no_text_symbols(void **state)
{
	struct ksyms *ks;

	assert_int_equal(load_text("ffffffff82400000 D __start_rodata\n", &ks), -ENOENT);
	assert_int_equal(load_text("", &ks), -ENOENT);
}

static void test_malformed(void **state)
{
	struct ksyms *ks;

	assert_int_equal(load_text("ffffffff81000000 T _text\nnot a line\n", &ks), -EINVAL);
	assert_int_equal(load_text("ffffffff81000000 TT _text\n", &ks), -EINVAL);
	assert_int_equal(load_text("ffffffff81000000 T\n", &ks), -EINVAL);
}

static void test_real_kallsyms(void **state)
{
	struct ksyms *ks = ksyms__load("/proc/kallsyms");
	const struct ksym *k;
	uint64_t lo, hi;

	/* Unprivileged, or kernel.kptr_restrict set: nothing to check here. */
	if (!ks && errno == EACCES)
		skip();
	assert_non_null(ks);
	ksyms__range(ks, &lo, &hi);
	assert_true(lo < hi);
	k = ksyms__find(ks, lo);
	assert_non_null(k);
	assert_int_equal(k->addr, lo);
	assert_int_equal(ksyms__addr(ks, k->name, &hi), 0);
	assert_int_equal(hi, lo);
	ksyms__free(ks);
	ksyms__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_and_inside), cmocka_unit_test(test_below_lowest),
		cmocka_unit_test(test_skips_non_text),	 cmocka_unit_test(test_modules),
		cmocka_unit_test(test_shared_address),	 cmocka_unit_test(test_range),
		cmocka_unit_test(test_by_name),
	};
	const struct CMUnitTest standalone[] = {
		cmocka_unit_test(test_hidden_addresses), cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_no_text_symbols),	 cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_real_kallsyms),
	};
	int failed;

	failed = cmocka_run_group_tests_name("ksyms fixture", tests, setup, teardown);
	failed += cmocka_run_group_tests_name("ksyms loading", standalone, NULL, NULL);
	return failed;
}
