// SPDX-License-Identifier: Apache-2.0
/*
 * The command lines of the profile types, parsed as bpfprof parses them
 * (cmd_parse_type: the type's own options with the shared ones), the
 * profile type table, and the one mapping of errors to exit codes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/cmd.h"
#include "profile_type/collectors.h"
#include "util/errors.h"
#include "util/exitcode.h"

/* One parse: a's options are freed by done(). */
static int parse(const char *type, struct type_args *a, const char *const *words)
{
	char *argv[32];
	int argc = 0;

	memset(a, 0, sizeof(*a));
	a->type = profile_type__find(type);
	assert_non_null(a->type);
	a->opts = calloc(1, a->type->opts_size);
	assert_non_null(a->opts);
	argv[argc++] = (char *)"bpfprof test";
	while (*words && argc < 31)
		argv[argc++] = (char *)*words++;
	argv[argc] = NULL;
	/* No exit and no message from argp itself: an unknown option is an error here. */
	return cmd_parse_type(a, argc, argv, ARGP_NO_EXIT | ARGP_NO_ERRS);
}

static void done(struct type_args *a)
{
	free(a->opts);
	a->opts = NULL;
}

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int parse_fails(const char *type, const char *const *words)
{
	struct type_args a;
	int err = parse(type, &a, words);

	done(&a);
	return err == -BPFPROF_EUSAGE;
}

static void test_cpu_defaults(void **state)
{
	struct type_args a;
	struct cpu_opts *o;

	assert_int_equal(parse("cpu", &a, WORDS("-p", "42")), 0);
	o = a.opts;
	assert_int_equal(a.common.target.mode, TARGET_PIDS);
	assert_int_equal(a.common.target.npids, 1);
	assert_int_equal(a.common.target.pids[0], 42);
	assert_null(a.common.target.argv);
	assert_string_equal(a.common.output, "cpu.pb.gz");
	assert_int_equal(a.common.top, 10);
	assert_int_equal(a.common.duration_ns, 0);
	assert_false(a.common.quiet);
	assert_int_equal(o->freq, 99);
	assert_true(o->user);
	assert_true(o->kernel);
	assert_false(o->kernel_only);
	assert_true(a.stack.opts.per_thread);
	assert_true(a.stack.opts.dwarf);
	assert_int_equal(a.stack.opts.unwind_mib, 32);
	done(&a);
}

static void test_cpu_options(void **state)
{
	struct type_args a;
	struct cpu_opts *o;

	assert_int_equal(
		parse("cpu", &a,
		      WORDS("-a", "-F", "999", "--kernel-only", "-d", "1.5", "-o", "x.pb.gz",
			    "--top", "0", "-q", "--unwind", "fp", "--unwind-mem", "4096")),
		0);
	o = a.opts;
	assert_int_equal(a.common.target.mode, TARGET_ALL);
	assert_int_equal(o->freq, 999);
	assert_false(o->user);
	assert_true(o->kernel_only);
	assert_int_equal(a.common.duration_ns, 1500000000LL);
	assert_string_equal(a.common.output, "x.pb.gz");
	assert_int_equal(a.common.top, 0);
	assert_true(a.common.quiet);
	assert_false(a.stack.opts.dwarf);
	assert_int_equal(a.stack.opts.unwind_mib, 4096);
	done(&a);

	assert_true(parse_fails("cpu", WORDS("-p", "1", "-F", "0")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "-F", "10001")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "--user-only", "--kernel-only")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "--bogus")));
}

static void test_durations(void **state)
{
	struct type_args a;

	assert_int_equal(parse("offcpu", &a, WORDS("-p", "1", "-d", "500ms")), 0);
	assert_int_equal(a.common.duration_ns, 500000000LL);
	done(&a);
	assert_int_equal(parse("mutex", &a, WORDS("-p", "1", "-d", "30")), 0);
	assert_int_equal(a.common.duration_ns, 30000000000LL);
	done(&a);
	assert_true(parse_fails("cpu", WORDS("-p", "1", "-d", "0")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "-d", "-1")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "-d", "xx")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "-d", "")));
}

static void test_one_target(void **state)
{
	struct type_args a;

	/* -p repeats and takes lists. */
	assert_int_equal(parse("cpu", &a, WORDS("-p", "1,2", "-p", "3")), 0);
	assert_int_equal(a.common.target.npids, 3);
	assert_int_equal(a.common.target.pids[2], 3);
	done(&a);
	/* The command: every word after the first non-option, options too. */
	assert_int_equal(parse("threadcreate", &a, WORDS("-d", "1", "--", "ls", "-l")), 0);
	assert_non_null(a.common.target.argv);
	assert_string_equal(a.common.target.argv[0], "ls");
	assert_string_equal(a.common.target.argv[1], "-l");
	assert_null(a.common.target.argv[2]);
	done(&a);
	assert_int_equal(parse("cpu", &a, WORDS("--cgroup", "/sys/fs/cgroup/x")), 0);
	assert_int_equal(a.common.target.mode, TARGET_CGROUP);
	assert_string_equal(a.common.target.cgroup_path, "/sys/fs/cgroup/x");
	done(&a);
	/* No target parses; the check after parsing refuses it. */
	assert_int_equal(parse("cpu", &a, WORDS("-d", "1")), 0);
	assert_int_equal(a.common.ntarget_kinds, 0);
	done(&a);

	assert_true(parse_fails("cpu", WORDS("-p", "1", "-a")));
	assert_true(parse_fails("cpu", WORDS("-a", "-p", "1")));
	assert_true(parse_fails("cpu", WORDS("-a", "--cgroup", "/x")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "--", "ls")));
	assert_true(parse_fails("cpu", WORDS("-p", "abc")));
	assert_true(parse_fails("cpu", WORDS("-p", "0")));
	assert_true(parse_fails("cpu", WORDS("-p", ",")));
}

static void test_output_and_top(void **state)
{
	assert_true(parse_fails("cpu", WORDS("-p", "1", "-o", "")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "--top", "-1")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "--top", "x")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "--unwind", "xx")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "--unwind-mem", "0")));
	assert_true(parse_fails("cpu", WORDS("-p", "1", "--unwind-mem", "4097")));
}

static void test_stack_resolve(void **state)
{
	struct type_args a;

	/* No tid label by default for the system; given back with -p. */
	assert_int_equal(parse("cpu", &a, WORDS("-a")), 0);
	stack_args__resolve(&a.stack, &a.common);
	assert_false(a.stack.opts.per_thread);
	assert_false(a.stack.opts.follow_children);
	done(&a);
	assert_int_equal(parse("cpu", &a, WORDS("-p", "1", "--no-tid", "--children")), 0);
	stack_args__resolve(&a.stack, &a.common);
	assert_false(a.stack.opts.per_thread);
	assert_true(a.stack.opts.follow_children);
	done(&a);
	/* A launched command's children are always followed. */
	assert_int_equal(parse("mutex", &a, WORDS("ls")), 0);
	stack_args__resolve(&a.stack, &a.common);
	assert_true(a.stack.opts.per_thread);
	assert_true(a.stack.opts.follow_children);
	done(&a);
}

static void test_type_options(void **state)
{
	struct type_args a;
	struct offcpu_opts *off;
	struct mutex_opts *mu;
	struct heap_opts *heap;

	assert_int_equal(parse("offcpu", &a, WORDS("-p", "1")), 0);
	off = a.opts;
	assert_int_equal(off->states, (1u << OFFCPU_STATE__MAX) - 1);
	assert_int_equal(off->block_rate_ns, 1000000);
	assert_true(off->user);
	done(&a);
	assert_int_equal(parse("offcpu", &a, WORDS("-p", "1", "--state", "disk", "--exact")), 0);
	off = a.opts;
	assert_int_equal(off->states, 1u << offcpu_state_parse("disk"));
	assert_int_equal(off->block_rate_ns, 0);
	done(&a);
	assert_true(parse_fails("offcpu", WORDS("-p", "1", "--state", "sleeping,idle")));
	assert_true(parse_fails("offcpu", WORDS("-p", "1", "--block-rate", "2s")));

	assert_int_equal(parse("mutex", &a, WORDS("-p", "1", "--by", "holder", "--lock", "0x10")),
			 0);
	mu = a.opts;
	assert_true(mu->by_holder);
	assert_int_equal(mu->lock, 0x10);
	done(&a);
	assert_true(parse_fails("mutex", WORDS("-p", "1", "--lock", "0")));

	/* heap: --unwind reaches its own stack options; no --no-tid. */
	assert_int_equal(parse("heap", &a, WORDS("-p", "1", "--rate", "4k", "--unwind", "fp")), 0);
	heap = a.opts;
	assert_int_equal(heap->rate, 4096);
	assert_int_equal(heap->max_overhead, 10);
	assert_false(heap->st.dwarf);
	assert_int_equal(heap->st.unwind_mib, 32);
	done(&a);
	assert_true(parse_fails("heap", WORDS("-p", "1", "--no-tid")));
	assert_true(parse_fails("heap", WORDS("-a")));
	assert_true(parse_fails("heap", WORDS("-a", "--mode", "growth", "--rate", "1")));

	/* threads: a snapshot of what runs. */
	assert_true(parse_fails("threads", WORDS("--", "ls")));
	assert_true(parse_fails("threads", WORDS("-p", "1", "-d", "1")));
	assert_true(parse_fails("threads", WORDS("-d", "1")));
	assert_true(parse_fails("threads", WORDS("-p", "1", "--children")));
	assert_int_equal(parse("threads", &a, WORDS("-p", "1", "--text")), 0);
	done(&a);
}

static void test_table(void **state)
{
	size_t i, j;
	char output[64];

	assert_true(nprofile_types >= 6);
	for (i = 0; i < nprofile_types; i++) {
		const struct profile_type *t = profile_types[i];

		assert_ptr_equal(profile_type__find(t->name), t);
		for (j = 0; j < i; j++)
			assert_string_not_equal(profile_types[j]->name, t->name);
		snprintf(output, sizeof(output), "%s.pb.gz", t->name);
		assert_string_equal(t->output, output);
		assert_non_null(t->summary);
		assert_non_null(t->argp);
		assert_non_null(t->collect);
		assert_true(t->opts_size >= sizeof(struct stack_opts));
		assert_true(t->view.sample_index < t->view.nsample_types);
		assert_non_null(t->view.noun);
	}
	assert_null(profile_type__find("report"));
	assert_null(profile_type__find("bogus"));
}

static void test_heap_views(void **state)
{
	const struct profile_type *t = profile_type__find("heap");
	struct heap_opts o = { 0 };
	const struct type_view *v;

	v = profile_type__view(t, &o);
	assert_string_equal(v->sample_types[v->sample_index].type, "inuse_space");
	assert_int_equal(v->skip, REPORT_SKIP_ALLOCATOR);
	o.allocs = true;
	v = profile_type__view(t, &o);
	assert_string_equal(v->sample_types[v->sample_index].type, "alloc_space");
	o.allocs = false;
	o.mode = HEAP_MODE_GROWTH;
	v = profile_type__view(t, &o);
	assert_string_equal(v->sample_types[v->sample_index].type, "faulted_space");
	assert_int_equal(v->skip, REPORT_SKIP_NONE);
	assert_string_equal(v->noun, "anonymous page faults");
}

static void test_exit_codes(void **state)
{
	assert_int_equal(cmd_exit_code(0), EXIT_OK);
	assert_int_equal(cmd_exit_code(-BPFPROF_EUSAGE), EXIT_USAGE);
	assert_int_equal(cmd_exit_code(-BPFPROF_ETARGET), EXIT_TARGET);
	assert_int_equal(cmd_exit_code(-BPFPROF_ESYSTEM), EXIT_SYSTEM);
	assert_int_equal(cmd_exit_code(-ENOMEM), EXIT_FAIL);
	assert_int_equal(cmd_exit_code(-EPERM), EXIT_FAIL);
	assert_int_equal(cmd_exit_code(-1), EXIT_FAIL);
	assert_string_equal(bpfprof_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(bpfprof_strerror(-BPFPROF_ETARGET), "no such target");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_defaults),   cmocka_unit_test(test_cpu_options),
		cmocka_unit_test(test_durations),      cmocka_unit_test(test_one_target),
		cmocka_unit_test(test_output_and_top), cmocka_unit_test(test_stack_resolve),
		cmocka_unit_test(test_type_options),   cmocka_unit_test(test_table),
		cmocka_unit_test(test_heap_views),     cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
