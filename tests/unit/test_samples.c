// SPDX-License-Identifier: Apache-2.0
/*
 * capture/samples.c: one sample per stack key, with its standard labels,
 * and the kernel frames a tracepoint's stack starts with trimmed off: the
 * tracing machinery (trim_tracing) and an address range (trim_lo, trim_hi),
 * never the whole stack.  Kernel names come from a kallsyms written here;
 * stacks go through a BPF hash map laid out as the stacks map (creating it
 * needs privilege: skipped without).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "bpfprof/types.h"
#include "capture/capture.h"
#include "capture/session.h"
#include "capture/stacks.h"
#include "proc/procs.h"
#include "profile/profile.h"
#include "symbolize/symbolize.h"

#define TEXT 0xffffffff81000000ULL
#define TRACEITER 0xffffffff81100000ULL
#define BPF_TRACE 0xffffffff81100100ULL
#define TRACE_RUN 0xffffffff81100200ULL
#define SCHEDULE_ 0xffffffff81200000ULL
#define SCHEDULE 0xffffffff81200100ULL
#define NANOSLEEP 0xffffffff81200200ULL
#define KSYS_READ 0xffffffff81300000ULL
#define PROG 0xffffffffc0001000ULL

static const char kallsyms[] = "ffffffff81000000 T _text\n"
			       "ffffffff81100000 T __traceiter_sched_switch\n"
			       "ffffffff81100100 t __bpf_trace_sched_switch\n"
			       "ffffffff81100200 T bpf_trace_run4\n"
			       "ffffffff81200000 t __schedule\n"
			       "ffffffff81200100 T schedule\n"
			       "ffffffff81200200 T do_nanosleep\n"
			       "ffffffff81300000 T ksys_read\n"
			       "ffffffff81400000 T _etext\n"
			       "ffffffffc0001000 t bpf_prog_6deef7357e7b4530_on_switch\t[bpf]\n";

struct fixture {
	char dir[64];
	struct session s;
	struct sample_sink k;
	int map_fd;
	__u64 next_id;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];
	FILE *file;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/bpfprof-samples.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/kallsyms", f->dir);
	file = fopen(path, "w");
	if (!file)
		return -1;
	fputs(kallsyms, file);
	fclose(file);
	f->s.counters_fd = -1;
	f->s.procs_tab = proctab__new(f->dir);
	if (!f->s.procs_tab)
		return -1;
	f->s.sym = symbolizer__new(f->s.procs_tab);
	f->map_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "test_stacks", sizeof(__u64),
				   sizeof(struct stack_trace), 64, NULL);
	f->next_id = STACK_ID_MIN;
	f->k.s = &f->s;
	f->k.p = profile__new();
	if (!f->s.sym || !f->k.p || profile__add_sample_type(f->k.p, "samples", "count") ||
	    profile__add_sample_type(f->k.p, "delay", "nanoseconds"))
		return -1;
	f->k.r = stack_resolver__new(f->k.p, f->s.sym, f->map_fd);
	if (!f->k.r)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	stack_resolver__free(f->k.r);
	profile__free(f->k.p);
	session__free(&f->s);
	if (f->map_fd >= 0)
		close(f->map_fd);
	snprintf(path, sizeof(path), "%s/kallsyms", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A kernel stack in the map, leaf first; returns its id. */
static __u64 kstack(struct fixture *f, const __u64 *ips, __u32 nr)
{
	struct stack_trace st;
	__u64 id = f->next_id++;

	if (f->map_fd < 0) {
		print_message("no BPF map (%s): skipped\n", strerror(-f->map_fd));
		skip();
	}
	memset(&st, 0, sizeof(st));
	st.nr = nr;
	memcpy(st.ips, ips, nr * sizeof(*ips));
	assert_int_equal(bpf_map_update_elem(f->map_fd, &id, &st, BPF_ANY), 0);
	return id;
}

static struct stack_key key_for(__u32 pid, __u32 tid, __u64 kern, const char *comm)
{
	struct stack_key key;

	memset(&key, 0, sizeof(key));
	key.pid = pid;
	key.tid = tid;
	key.kern_stack = kern;
	strncpy(key.comm, comm, sizeof(key.comm));
	return key;
}

/* Adds one sample of kernel stack ips; returns the profile's last sample. */
static const struct pf_sample *add(struct fixture *f, const __u64 *ips, __u32 nr)
{
	const int64_t values[2] = { 1, 1000 };
	struct stack_key key = key_for(7, 0, kstack(f, ips, nr), "app");

	assert_int_equal(capture_add_sample(&f->k, &key, values, NULL, 0), 0);
	assert_true(f->k.p->nsamples > 0);
	return &f->k.p->samples[f->k.p->nsamples - 1];
}

/* The function names of a sample's frames, leaf first, space-separated. */
static const char *frames(const struct profile *p, const struct pf_sample *smp)
{
	static char buf[512];
	const struct pf_location *loc;
	const struct pf_function *fn;
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < smp->nlocations; i++) {
		loc = profile__location(p, smp->location_ids[i]);
		assert_non_null(loc);
		assert_true(loc->nlines > 0);
		fn = profile__function(p, loc->lines[0].function_id);
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "",
			      profile__str(p, fn->name));
	}
	return buf;
}

static const __u64 in_tracepoint[] = { PROG + 0x40,	 TRACE_RUN + 0x80, BPF_TRACE + 0x10,
				       TRACEITER + 0x20, SCHEDULE_ + 0x30, SCHEDULE + 0x30,
				       NANOSLEEP + 0x50 };

static void test_no_trim(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(frames(f->k.p, add(f, in_tracepoint, 7)),
			    "bpf_prog_6deef7357e7b4530_on_switch bpf_trace_run4 "
			    "__bpf_trace_sched_switch __traceiter_sched_switch __schedule schedule "
			    "do_nanosleep");
}

static void test_trim_tracing(void **state)
{
	struct fixture *f = *state;
	const __u64 mixed[] = { TRACE_RUN + 1, SCHEDULE_ + 1, TRACEITER + 1, SCHEDULE + 1 };
	const __u64 only[] = { PROG + 1, TRACE_RUN + 1, TRACEITER + 1 };

	f->k.trim_tracing = true;
	assert_string_equal(frames(f->k.p, add(f, in_tracepoint, 7)),
			    "__schedule schedule do_nanosleep");
	/* Only the top: tracing frames further down stay. */
	assert_string_equal(frames(f->k.p, add(f, mixed, 4)),
			    "__schedule __traceiter_sched_switch schedule");
	/* Never the whole stack: its last frame stays. */
	assert_string_equal(frames(f->k.p, add(f, only, 3)), "__traceiter_sched_switch");
	/* A stack that does not start in the machinery is left as it is. */
	assert_string_equal(frames(f->k.p, add(f, in_tracepoint + 4, 3)),
			    "__schedule schedule do_nanosleep");
}

static void test_trim_range(void **state)
{
	struct fixture *f = *state;
	const __u64 stack[] = { SCHEDULE_ + 0x10, SCHEDULE + 0x10, NANOSLEEP + 0x10,
				SCHEDULE + 0x20, KSYS_READ + 0x10 };

	/* [__schedule, do_nanosleep): the scheduler's own frames at the top. */
	f->k.trim_lo = SCHEDULE_;
	f->k.trim_hi = NANOSLEEP;
	assert_string_equal(frames(f->k.p, add(f, stack, 5)), "do_nanosleep schedule ksys_read");
	/* Both: the tracing frames, then the range. */
	f->k.trim_tracing = true;
	assert_string_equal(frames(f->k.p, add(f, in_tracepoint, 7)), "do_nanosleep");
	/* Every frame in the range: the last one stays. */
	assert_string_equal(frames(f->k.p, add(f, stack, 2)), "schedule");
	/* An empty range trims nothing. */
	f->k.trim_tracing = false;
	f->k.trim_lo = f->k.trim_hi = NANOSLEEP;
	assert_string_equal(frames(f->k.p, add(f, stack, 2)), "__schedule schedule");
}

/* The value of label key of smp: its string, or its number printed. */
static const char *label(const struct profile *p, const struct pf_sample *smp, const char *key)
{
	static char num[32];
	size_t i;

	for (i = 0; i < smp->nlabels; i++) {
		if (strcmp(profile__str(p, smp->labels[i].key), key))
			continue;
		if (smp->labels[i].str)
			return profile__str(p, smp->labels[i].str);
		snprintf(num, sizeof(num), "%lld", (long long)smp->labels[i].num);
		return num;
	}
	return NULL;
}

/* Writes <procfs>/PID/maps with one executable mapping of path. */
static void fake_maps(struct fixture *f, int pid, const char *path, unsigned long start)
{
	char file[160];
	FILE *maps;

	snprintf(file, sizeof(file), "%s/%d", f->dir, pid);
	assert_int_equal(mkdir(file, 0755), 0);
	snprintf(file, sizeof(file), "%s/%d/maps", f->dir, pid);
	maps = fopen(file, "w");
	assert_non_null(maps);
	fprintf(maps, "%lx-%lx r-xp 00001000 fd:01 42 %s\n", start, start + 0x2000, path);
	assert_int_equal(fclose(maps), 0);
}

/* The same, read into the process table with path as its executable. */
static void fake_process(struct fixture *f, int pid, const char *path, unsigned long start)
{
	fake_maps(f, pid, path, start);
	assert_int_equal(proctab__refresh(f->s.procs_tab, pid), 0);
	assert_int_equal(proctab__set_exe(f->s.procs_tab, proctab__get(f->s.procs_tab, pid), path),
			 0);
}

static void remove_process(struct fixture *f, int pid)
{
	char file[160];

	snprintf(file, sizeof(file), "%s/%d/maps", f->dir, pid);
	unlink(file);
	snprintf(file, sizeof(file), "%s/%d", f->dir, pid);
	rmdir(file);
}

static void test_labels_and_sums(void **state)
{
	struct fixture *f = *state;
	const __u64 ips[] = { SCHEDULE + 0x10, NANOSLEEP + 0x10 };
	const int64_t values[2] = { 1, 250 };
	const struct pf_label_desc extra[] = { { .key = "state", .str = "sleeping" } };
	__u64 id = kstack(f, ips, 2);
	struct stack_key key = key_for(4000, 0, id, "a-fifteen-chars");
	const struct pf_sample *smp;

	/* No tid when not recorded per thread; process falls back to comm. */
	assert_int_equal(capture_add_sample(&f->k, &key, values, NULL, 0), 0);
	assert_int_equal(f->k.p->nsamples, 1);
	smp = &f->k.p->samples[0];
	assert_string_equal(label(f->k.p, smp, "pid"), "4000");
	assert_null(label(f->k.p, smp, "tid"));
	assert_string_equal(label(f->k.p, smp, "comm"), "a-fifteen-chars");
	assert_string_equal(label(f->k.p, smp, "process"), "a-fifteen-chars");

	/* The same stack and labels: one sample, the values added up. */
	assert_int_equal(capture_add_sample(&f->k, &key, values, NULL, 0), 0);
	assert_int_equal(f->k.p->nsamples, 1);
	assert_int_equal(f->k.p->samples[0].values[0], 2);
	assert_int_equal(f->k.p->samples[0].values[1], 500);

	/* A tid, an extra label: another sample. */
	key.tid = 4001;
	assert_int_equal(capture_add_sample(&f->k, &key, values, extra, 1), 0);
	assert_int_equal(f->k.p->nsamples, 2);
	smp = &f->k.p->samples[1];
	assert_string_equal(label(f->k.p, smp, "tid"), "4001");
	assert_string_equal(label(f->k.p, smp, "state"), "sleeping");

	/* A process the session tracks is named after its executable (its maps read: alive). */
	fake_maps(f, getpid(), "/bin/app", 0x400000);
	session__track(&f->s, getpid(), "comm");
	key = key_for(getpid(), 0, id, "comm");
	assert_int_equal(capture_add_sample(&f->k, &key, values, NULL, 0), 0);
	smp = &f->k.p->samples[f->k.p->nsamples - 1];
	assert_string_equal(label(f->k.p, smp, "comm"), "comm");
	assert_string_equal(label(f->k.p, smp, "process"), program_invocation_short_name);
	remove_process(f, getpid());
}

static void test_lost_stack(void **state)
{
	struct fixture *f = *state;
	const int64_t values[2] = { 1, 1 };
	struct stack_key key = key_for(9, 0, STACK_ID_MIN + 999, "gone");

	/* A stack id the map does not hold: an error, no sample. */
	if (f->map_fd < 0)
		skip();
	assert_int_equal(capture_add_sample(&f->k, &key, values, NULL, 0), -ENOENT);
	assert_int_equal(f->k.p->nsamples, 0);
	/* A lost stack keeps its weight under a marker. */
	key.kern_stack = STACK_ID_MAP_FULL;
	f->k.trim_tracing = true;
	assert_int_equal(capture_add_sample(&f->k, &key, values, NULL, 0), 0);
	assert_string_equal(frames(f->k.p, &f->k.p->samples[0]),
			    "[lost kernel stack: stack map full]");
}

static void test_lead_mapping(void **state)
{
	struct fixture *f = *state;
	const __u64 ips[] = { SCHEDULE + 0x10, NANOSLEEP + 0x10 };
	const int64_t light[2] = { 1, 100 }, heavy[2] = { 3, 300 }, heaviest[2] = { 9, 900 };
	struct stack_key key;
	const struct pf_mapping *m;
	__u64 id = kstack(f, ips, 2);

	fake_process(f, 7, "/bin/seven", 0x400000);
	fake_process(f, 8, "/opt/eight", 0x500000);
	key = key_for(7, 0, id, "seven");
	assert_int_equal(capture_add_sample(&f->k, &key, light, NULL, 0), 0);
	key = key_for(8, 0, id, "eight");
	assert_int_equal(capture_add_sample(&f->k, &key, heavy, NULL, 0), 0);
	/* A kernel thread weighs most but has no executable: passed over. */
	key = key_for(9, 0, id, "kworker");
	assert_int_equal(capture_add_sample(&f->k, &key, heaviest, NULL, 0), 0);
	assert_int_equal(f->k.p->nmappings, 1);

	/* No sample ran in /opt/eight: its mapping is added, first. */
	assert_int_equal(capture_lead_mapping(&f->s, f->k.p), 0);
	assert_int_equal(f->k.p->nmappings, 2);
	m = &f->k.p->mappings[0];
	assert_string_equal(profile__str(f->k.p, m->filename), "/opt/eight");
	assert_int_equal(m->id, 1);
	assert_int_equal(m->memory_start, 0x500000);
	assert_int_equal(m->memory_limit, 0x502000);
	assert_int_equal(m->file_offset, 0x1000);
	/* The kernel's frames still name the kernel's mapping. */
	m = profile__mapping(
		f->k.p, profile__location(f->k.p, f->k.p->samples[0].location_ids[0])->mapping_id);
	assert_non_null(m);
	assert_string_equal(profile__str(f->k.p, m->filename), "[kernel.kallsyms]");
	/* Again: already first, nothing added. */
	assert_int_equal(capture_lead_mapping(&f->s, f->k.p), 0);
	assert_int_equal(f->k.p->nmappings, 2);
	remove_process(f, 7);
	remove_process(f, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_trim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trim_tracing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trim_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_and_sums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lead_mapping, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
