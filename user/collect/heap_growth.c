// SPDX-License-Identifier: Apache-2.0
/*
 * heap --mode growth: where a process's private anonymous memory grows, by
 * user stack, without uprobes (bpf/heap_growth.bpf.c).  For programs too
 * allocation-heavy for probes on malloc: only page faults and memory
 * syscalls run BPF, and an allocator that reuses its memory makes neither.
 *
 * Sample types, in this order:
 *   faults/count           write faults on private anonymous memory: pages
 *                          written for the first time (scaled by
 *                          --fault-every)
 *   faulted_space/bytes    the same in bytes (faults x page size): resident
 *                          memory growth, where memory is first touched.
 *                          The default (HEAP_GROWTH_SAMPLE_INDEX and the
 *                          profile's default_sample_type): RSS is what runs
 *                          out.
 *   grown_space/bytes      address space added by brk, mmap (private
 *                          anonymous, not PROT_NONE), mremap and mprotect
 *                          (PROT_NONE → accessible), at the calling stack:
 *                          main → ... → malloc → sysmalloc → brk
 *   released_space/bytes   address space given back by brk, munmap, mremap
 *                          and mprotect (→ PROT_NONE), at the releasing
 *                          stack (free → munmap, malloc_trim → brk)
 * Period type space/bytes, period page size x --fault-every: one sampled
 * fault stands for that much (the syscalls are all recorded).
 *
 * Releases are their own sample type, charged to the stack that released:
 * BPF keeps no record of who mapped which range (that would be a map entry
 * per mapping, what --mode alloc does per block), so a release cannot be
 * subtracted from the stack that grew.  Total grown minus total released is
 * the net change of the address space; a stack that only grows is where to
 * look.  Released memory's pages are not subtracted from faulted_space.
 *
 * Cost, per page fault of a target (a loop writing fresh pages here, 2.2 us a
 * fault bare): +2.4 us with --fault-every 1 (a user stack each), +0.2 us with
 * 16.  The fault's VMA is checked against the last one seen on the CPU
 * before bpf_find_vma, which in a fault costs a self-IPI (~18 us here); see
 * bpf/heap_growth.bpf.c.  Syscalls cost one stack per call that grew or
 * released memory.
 *
 * Limits, mostly on the side of not counting: a fault that maps a transparent
 * huge page counts one page (noted in the profile when THP is "always"); a
 * fault below the main thread's stack VMA (stack growth) finds no VMA;
 * memory written through get_user_pages (process_vm_writev, O_DIRECT) makes
 * no fault; a munmap/mremap/mprotect counts the part of its range in the
 * VMA at its start; shared anonymous memory (MAP_SHARED) and hugetlbfs are
 * not private anonymous memory.  A lookup of the VMA that finds the mmap
 * lock taken by a writer is counted and the event dropped.  Counted too
 * much: a write fault on a page still shared with a forked process, though
 * the last sharer reuses the page; a MAP_FIXED mmap over memory already
 * mapped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfprof/growth.h"
#include "profile_type/collectors.h"
#include "profile_type/profile_type.h"
#include "heap_growth.skel.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "capture/target.h"
#include "util/util.h"

/* The syscalls whose growth is recorded, as named under events/syscalls/. */
static const char *const mem_syscalls[] = { "brk", "mmap", "munmap", "mremap", "mprotect" };
#define NSYSCALLS ARRAY_SIZE(mem_syscalls)

static long page_size(void)
{
	long n = sysconf(_SC_PAGESIZE);

	return n > 0 ? n : 4096;
}

static const struct syscall_set mem_set = {
	.what = "memory syscalls",
	.names = mem_syscalls,
	.n = NSYSCALLS,
	.required = NSYSCALLS,
};

static void *open_and_load(struct session *s, const void *opts, bool btf, int *err)
{
	const struct heap_opts *o = opts;
	struct heap_growth_bpf *skel = heap_growth_bpf__open();
	bool system = s->target->mode != TARGET_PIDS;

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	CAPTURE_SET_STACK_RODATA(skel, s, &o->st);
	/* A kernel stack at a fault or a syscall's entry is the entry code: user stacks only. */
	skel->rodata->capture_kernel = false;
	skel->rodata->fault_every = o->fault_every ? o->fault_every : 1;
	skel->rodata->syscall_rate = o->syscall_rate;
	skel->rodata->page_size = page_size();
	bpf_map__set_max_entries(skel->maps.growth, system ? 65536 : 16384);
	bpf_map__set_max_entries(skel->maps.pending, system ? 65536 : 16384);
	bpf_map__set_max_entries(skel->maps.stacks, system ? 32768 : 16384);
	capture_select_tp(skel->obj, btf);
	capture_syscalls_select(skel->obj, &mem_set);
	*err = heap_growth_bpf__load(skel);
	if (*err) {
		heap_growth_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/*
 * capture_begin attaches the fault programs (and the raw_syscalls fallback);
 * then the syscall tracepoints.
 */
static int attach(struct session *s, struct heap_growth_bpf *skel, struct capture_links *links)
{
	int ret = capture_begin(s, skel->obj, links);

	if (ret)
		return ret;
	ret = capture_syscalls_attach(skel->obj, &mem_set, links);
	return ret ? capture_explain("attach to the memory syscall tracepoints", ret) : 0;
}

struct growth_ctx {
	struct session *s;
	const struct heap_opts *o;
	struct heap_growth_bpf *skel;
	struct profile_shape shape;
	int64_t fault_every, page_size;
};

/* growth: stack key → {sampled faults, grown, released}. */
static int growth_entry(const void *key, const void *value, int64_t *values,
			struct pf_label_desc *extra, void *arg)
{
	const struct growth_val *v = value;
	const struct growth_ctx *c = arg;
	int64_t faults = (int64_t)v->faults * c->fault_every;

	values[0] = faults;
	values[1] = faults * c->page_size;
	values[2] = v->grown_bytes;
	values[3] = v->released_bytes;
	return 0;
}

/* "always" makes every large enough anonymous region fault in huge pages. */
static bool thp_always(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char line[128] = "";
	bool always;

	if (!f)
		return false;
	always = fgets(line, sizeof(line), f) && strstr(line, "[always]");
	fclose(f);
	return always;
}

static int fill(struct sample_sink *k, void *arg)
{
	struct growth_ctx *c = arg;
	int err;

	err = profile__set_default_sample_type(k->p, "faulted_space");
	if (!err && thp_always())
		err = profile__add_comment(
			k->p, "transparent huge pages are \"always\": a fault that maps a huge "
			      "page counts as one page, so faulted_space is low for large regions");
	if (!err)
		err = capture_add_map(k, bpf_map__fd(c->skel->maps.growth), growth_entry, c);
	return err;
}

/* --interval and SIGUSR1: the profile so far, handed to the command to write. */
static int snapshot(void *arg)
{
	struct growth_ctx *c = arg;
	struct profile *p = NULL;
	int ret;

	ret = capture_make_snapshot(c->s, &c->shape, bpf_map__fd(c->skel->maps.stacks), fill, c,
				    &p);
	if (!ret)
		ret = c->o->snapshot(c->o->snapshot_ctx, c->s, p);
	profile__free(p);
	return ret;
}

const struct value_type_desc heap_growth_types[4] = {
	{ "faults", "count" },
	{ "faulted_space", "bytes" },
	{ "grown_space", "bytes" },
	{ "released_space", "bytes" },
};

int collect_heap_growth(struct session *s, const struct heap_opts *o, struct profile **out)
{
	struct growth_ctx c = { .s = s, .o = o };
	struct capture_links links = { 0 };
	int ret;

	_Static_assert(HEAP_GROWTH_SAMPLE_INDEX == 1, "faulted_space is the default");
	c.fault_every = o->fault_every ? o->fault_every : 1;
	c.page_size = page_size();
	c.shape = (struct profile_shape){
		.types = heap_growth_types,
		.ntypes = ARRAY_SIZE(heap_growth_types),
		.period_type = { "space", "bytes" },
		.period = c.fault_every * c.page_size,
	};
	c.skel = capture_load(open_and_load, s, o, &ret);
	if (!c.skel)
		return ret;
	if (o->snapshot) {
		s->on_snapshot = snapshot;
		s->on_snapshot_ctx = &c;
	}
	ret = attach(s, c.skel, &links);
	if (!ret)
		ret = capture_run(s, &links);
	s->on_snapshot = NULL;
	if (ret)
		goto cleanup;
	ret = capture_make_profile(s, &c.shape, bpf_map__fd(c.skel->maps.stacks), fill, &c, out);
cleanup:
	capture_detach(&links);
	heap_growth_bpf__destroy(c.skel);
	return ret;
}

int heap_growth_agent_start(struct session *s, const void *opts, struct agent_capture *c)
{
	const struct heap_opts *o = opts;
	struct growth_ctx *gc = calloc(1, sizeof(*gc));
	struct heap_growth_bpf *skel;
	int ret;

	if (!gc)
		return -ENOMEM;
	gc->s = s;
	gc->o = o;
	gc->fault_every = o->fault_every ? o->fault_every : 1;
	gc->page_size = page_size();
	skel = capture_load(open_and_load, s, o, &ret);
	if (!skel) {
		free(gc);
		return ret;
	}
	gc->skel = skel;
	*c = (struct agent_capture){
		.skel = skel,
		.destroy = (void (*)(void *))heap_growth_bpf__destroy,
		.obj = skel->obj,
		.gen = &skel->bss->agg_gen,
		.counts_fd = bpf_map__fd(skel->maps.growth),
		.entry = growth_entry,
		.entry_arg = gc,
		.shape = {
			.types = heap_growth_types,
			.ntypes = ARRAY_SIZE(heap_growth_types),
			.period_type = { "space", "bytes" },
			.period = gc->fault_every * gc->page_size,
		},
		.default_type = "faulted_space",
	};
	ret = attach(s, skel, &c->links);
	if (ret)
		agent_capture__free(c);
	return ret;
}
