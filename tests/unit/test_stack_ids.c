// SPDX-License-Identifier: Apache-2.0
/*
 * capture/stacks.c: from stack ids (into a stacks map) or addresses to
 * profile locations.  Kernel frames first, then user frames, leaf first;
 * return addresses moved back into their call; lost stacks become marker
 * frames; each (pid, address) symbolized once.  Kernel addresses come from
 * the fixture's kallsyms; the stacks map is a BPF hash map with the stack
 * trace map's layout (creating it needs privilege: skipped without).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "bpfprof/types.h"
#include "capture/stacks.h"
#include "proc/procs.h"
#include "profile/profile.h"
#include "symbolize/symbolize.h"

#define PROCFS "tests/fixtures/proc"
#define FIXTURE_PID 4242

/* In the fixture's kallsyms. */
#define VFS_READ 0xffffffff816b89f0ULL
#define KSYS_READ 0xffffffff816b96a0ULL
#define SYS_READ 0xffffffff816b9790ULL
#define DO_SYS_OPEN 0xffffffff816b5580ULL

struct fixture {
	struct profile *p;
	struct proctab *procs;
	struct symbolizer *sym;
	struct stack_resolver *r;
	int map_fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->p = profile__new();
	f->procs = proctab__new(PROCFS);
	f->sym = f->procs ? symbolizer__new(f->procs) : NULL;
	f->map_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "test_stacks", sizeof(__u64),
				   sizeof(struct stack_trace), 64, NULL);
	f->r = stack_resolver__new(f->p, f->sym, f->map_fd);
	if (!f->p || !f->sym || !f->r)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	stack_resolver__free(f->r);
	symbolizer__free(f->sym);
	proctab__free(f->procs);
	profile__free(f->p);
	if (f->map_fd >= 0)
		close(f->map_fd);
	free(f);
	return 0;
}

static void need_map(struct fixture *f)
{
	if (f->map_fd < 0) {
		print_message("no BPF map (%s): skipped\n", strerror(-f->map_fd));
		skip();
	}
}

static void put_stack(struct fixture *f, __u64 id, const __u64 *ips, __u32 nr, __u32 flags)
{
	struct stack_trace st;

	memset(&st, 0, sizeof(st));
	st.nr = nr;
	st.flags = flags;
	memcpy(st.ips, ips, nr * sizeof(*ips));
	assert_int_equal(bpf_map_update_elem(f->map_fd, &id, &st, BPF_ANY), 0);
}

/* The function name of a location's innermost line, "" when it has none. */
static const char *name_of(const struct profile *p, uint64_t id)
{
	const struct pf_location *loc = profile__location(p, id);
	const struct pf_function *fn;

	assert_non_null(loc);
	if (!loc->nlines)
		return "";
	fn = profile__function(p, loc->lines[0].function_id);
	assert_non_null(fn);
	return profile__str(p, fn->name);
}

static uint64_t address_of(const struct profile *p, uint64_t id)
{
	const struct pf_location *loc = profile__location(p, id);

	assert_non_null(loc);
	return loc->address;
}

static void test_markers(void **state)
{
	struct fixture *f = *state;
	uint64_t ids[8];

	/* No lookup for ids below STACK_ID_MIN: these need no map. */
	assert_int_equal(
		stack_resolver__locations(f->r, 1, STACK_ID_MAP_FULL, STACK_ID_ERROR, ids, 8), 2);
	assert_string_equal(name_of(f->p, ids[0]), "[lost kernel stack: capture failed]");
	assert_string_equal(name_of(f->p, ids[1]), "[lost user stack: stack map full]");
	assert_int_equal(
		stack_resolver__locations(f->r, 1, STACK_ID_ERROR, STACK_ID_MAP_FULL, ids, 8), 2);
	assert_string_equal(name_of(f->p, ids[0]), "[lost kernel stack: stack map full]");
	assert_string_equal(name_of(f->p, ids[1]), "[lost user stack: capture failed]");
	/* Not asked for: no marker; with neither stack, one frame keeps the weight. */
	assert_int_equal(
		stack_resolver__locations(f->r, 1, STACK_ID_MAP_FULL, STACK_ID_NONE, ids, 8), 1);
	assert_string_equal(name_of(f->p, ids[0]), "[lost user stack: stack map full]");
	assert_int_equal(stack_resolver__locations(f->r, 1, STACK_ID_NONE, STACK_ID_NONE, ids, 8),
			 1);
	assert_string_equal(name_of(f->p, ids[0]), "[no stack]");
	/* Nothing fits in nothing. */
	assert_int_equal(stack_resolver__locations(f->r, 1, STACK_ID_NONE, STACK_ID_NONE, ids, 0),
			 0);
}

static void test_ids(void **state)
{
	struct fixture *f = *state;
	const __u64 kern[] = { VFS_READ + 0x42, KSYS_READ + 0x10, SYS_READ + 0x8 };
	const __u64 user[] = { 0x7f3a30000123, 0x7f3a30000456 };
	uint64_t ids[16];

	need_map(f);
	put_stack(f, STACK_ID_MIN, kern, 3, 0);
	put_stack(f, STACK_ID_MIN + 1, user, 2, 0);
	assert_int_equal(proctab__refresh(f->procs, FIXTURE_PID), 0);
	assert_int_equal(stack_resolver__locations(f->r, FIXTURE_PID, STACK_ID_MIN + 1,
						   STACK_ID_MIN, ids, 16),
			 5);
	/* Kernel first, leaf first, named from kallsyms. */
	assert_string_equal(name_of(f->p, ids[0]), "vfs_read");
	assert_string_equal(name_of(f->p, ids[1]), "ksys_read");
	assert_string_equal(name_of(f->p, ids[2]), "__x64_sys_read");
	/* The sampled address as it is; return addresses back into their call. */
	assert_int_equal(address_of(f->p, ids[0]), VFS_READ + 0x42);
	assert_int_equal(address_of(f->p, ids[1]), KSYS_READ + 0x10 - 1);
	assert_int_equal(address_of(f->p, ids[2]), SYS_READ + 0x8 - 1);
	/* Then the user stack, in an anonymous mapping of the fixture's process. */
	assert_int_equal(address_of(f->p, ids[3]), 0x7f3a30000123);
	assert_int_equal(address_of(f->p, ids[4]), 0x7f3a30000456 - 1);
	assert_int_equal(stack_resolver__unmapped(f->r), 0);

	/* A user stack alone. */
	assert_int_equal(stack_resolver__locations(f->r, FIXTURE_PID, STACK_ID_MIN + 1,
						   STACK_ID_NONE, ids, 16),
			 2);
	assert_int_equal(address_of(f->p, ids[0]), 0x7f3a30000123);
}

static void test_truncated_and_bounded(void **state)
{
	struct fixture *f = *state;
	const __u64 kern[] = { VFS_READ + 1, KSYS_READ + 1, SYS_READ + 1, DO_SYS_OPEN + 1 };
	uint64_t ids[16];

	need_map(f);
	put_stack(f, STACK_ID_MIN + 7, kern, 2, STACK_TRUNCATED);
	assert_int_equal(
		stack_resolver__locations(f->r, 1, STACK_ID_NONE, STACK_ID_MIN + 7, ids, 16), 3);
	assert_string_equal(name_of(f->p, ids[1]), "ksys_read");
	assert_string_equal(name_of(f->p, ids[2]), "[truncated]");

	/* Never more than max ids, the leaf's kept first. */
	put_stack(f, STACK_ID_MIN + 8, kern, 4, 0);
	assert_int_equal(
		stack_resolver__locations(f->r, 1, STACK_ID_MIN + 7, STACK_ID_MIN + 8, ids, 3), 3);
	assert_string_equal(name_of(f->p, ids[0]), "vfs_read");
	assert_string_equal(name_of(f->p, ids[2]), "__x64_sys_read");

	/* An id the map does not hold: an error, not a made-up stack. */
	assert_int_equal(
		stack_resolver__locations(f->r, 1, STACK_ID_NONE, STACK_ID_MIN + 9, ids, 16),
		-ENOENT);
}

static void test_dedup(void **state)
{
	struct fixture *f = *state;
	const __u64 kern[] = { VFS_READ + 0x42, KSYS_READ + 0x10 };
	const __u64 user[] = { 0x1234, 0x5678 };
	uint64_t a[8], b[8];
	size_t nlocs, nmaps;

	need_map(f);
	put_stack(f, STACK_ID_MIN + 20, kern, 2, 0);
	put_stack(f, STACK_ID_MIN + 21, user, 2, 0);
	/* pids 100 and 200 are not tracked: their addresses are in no mapping. */
	assert_int_equal(
		stack_resolver__locations(f->r, 100, STACK_ID_MIN + 21, STACK_ID_MIN + 20, a, 8),
		4);
	assert_int_equal(stack_resolver__unmapped(f->r), 2);
	nlocs = f->p->nlocations;
	nmaps = f->p->nmappings;
	/* The same stacks again: the same locations, nothing symbolized anew. */
	assert_int_equal(
		stack_resolver__locations(f->r, 100, STACK_ID_MIN + 21, STACK_ID_MIN + 20, b, 8),
		4);
	assert_memory_equal(a, b, sizeof(a[0]) * 4);
	assert_int_equal(f->p->nlocations, nlocs);
	assert_int_equal(stack_resolver__unmapped(f->r), 2);
	/* Another process: kernel addresses are everyone's, user ones its own. */
	assert_int_equal(
		stack_resolver__locations(f->r, 200, STACK_ID_MIN + 21, STACK_ID_MIN + 20, b, 8),
		4);
	assert_memory_equal(a, b, sizeof(a[0]) * 2);
	assert_int_equal(stack_resolver__unmapped(f->r), 4);
	/* One kernel mapping, however many kernel frames. */
	assert_int_equal(f->p->nmappings, nmaps);
	assert_int_equal(nmaps, 1);
}

static void test_ips(void **state)
{
	struct fixture *f = *state;
	const __u64 kern[] = { VFS_READ + 0x42, KSYS_READ + 0x10 };
	const __u64 user[] = { 0x7f3a30000123, 0x7f3a30000456, 0x7f3a30000789 };
	uint64_t ids[8];

	assert_int_equal(proctab__refresh(f->procs, FIXTURE_PID), 0);
	assert_int_equal(stack_resolver__locations_ips(f->r, FIXTURE_PID, user, 3, kern, 2, ids, 8),
			 5);
	assert_string_equal(name_of(f->p, ids[0]), "vfs_read");
	assert_int_equal(address_of(f->p, ids[0]), VFS_READ + 0x42);
	assert_int_equal(address_of(f->p, ids[1]), KSYS_READ + 0x10 - 1);
	/* Each stack's first address is where it stood, the rest return addresses. */
	assert_int_equal(address_of(f->p, ids[2]), 0x7f3a30000123);
	assert_int_equal(address_of(f->p, ids[4]), 0x7f3a30000789 - 1);
	assert_int_equal(stack_resolver__locations_ips(f->r, FIXTURE_PID, user, 3, kern, 2, ids, 4),
			 4);
	assert_int_equal(stack_resolver__locations_ips(f->r, FIXTURE_PID, NULL, 0, NULL, 0, ids, 8),
			 1);
	assert_string_equal(name_of(f->p, ids[0]), "[no stack]");
}

static void test_many(void **state)
{
	struct fixture *f = *state;
	enum { N = 20000 };
	__u64 *ips = calloc(N, sizeof(*ips));
	uint64_t *a = calloc(N, sizeof(*a)), *b = calloc(N, sizeof(*b));
	size_t i;

	/* More distinct addresses than the cache starts with: it grows, and keeps them. */
	assert_non_null(ips);
	assert_non_null(a);
	assert_non_null(b);
	for (i = 0; i < N; i++)
		ips[i] = 0x100000 + 16 * i;
	assert_int_equal(stack_resolver__locations_ips(f->r, 300, ips, N, NULL, 0, a, N), N);
	assert_int_equal(stack_resolver__unmapped(f->r), N);
	assert_int_equal(stack_resolver__locations_ips(f->r, 300, ips, N, NULL, 0, b, N), N);
	assert_memory_equal(a, b, N * sizeof(*a));
	assert_int_equal(stack_resolver__unmapped(f->r), N);
	for (i = 1; i < N; i++)
		assert_int_not_equal(a[i], a[i - 1]);
	free(ips);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
