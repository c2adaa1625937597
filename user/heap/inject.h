/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-process heap sampler (heap/sampler/): injected into a running
 * process with ptrace, its allocator's GOT slots pointed at it; and taken
 * out again (the slots restored, the sampler left mapped and inert).
 */
#ifndef BPFPROF_HEAP_INJECT_H
#define BPFPROF_HEAP_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heap_allocator;

struct heap_injection {
	int pid;
	uint64_t base;	    /* the sampler's code in the target; data at base + SAMPLER_DATA_OFF */
	int memfd;	    /* bpfprof's descriptor of the sampler's code file (for the uprobe) */
	uint64_t probe_off; /* the probe function's offset in that file */
	int nslots;	    /* GOT slots redirected */
	int nobjects;	    /* objects whose slots were */
	bool reused;	    /* a sampler left by an earlier bpfprof */
	int64_t stopped_ns; /* how long the threads were stopped, both stops together */
	/* Into the first stop: all stopped, sampler found, mapped; into the last: slots redirected. */
	int64_t phase_ns[4];
	int nthreads;
	int tries;	       /* stops it took to find no thread in the dynamic loader */
	uint64_t objects_hash; /* of the objects mapped when last patched */
	uint64_t *known;       /* those objects' keys (got_object_key; malloc'ed) */
	int nknown;
	int late_objects; /* objects loaded since the injection whose slots were redirected */
	uint64_t dropped; /* sampled blocks the sampler's table had no room for (at uninject) */
};

/*
 * Called while the target is stopped, the sampler mapped and no slot
 * redirected yet: attaches BPF to the probe at offset probe_off of the file
 * memfd.  Returns 0 or -errno (after printing why).
 */
typedef int (*heap_inject_attach_fn)(void *ctx, int memfd, uint64_t probe_off);

/*
 * Injects (or finds) the sampler in pid, sampling one allocation per rate
 * bytes of allocator a, calls attach, and redirects every loaded object's
 * GOT slots of the allocation functions to it.  Returns 0, or -errno with
 * one line in why.
 */
int heap_inject(int pid, const struct heap_allocator *a, uint64_t rate,
		heap_inject_attach_fn attach, void *ctx, struct heap_injection *out, char *why,
		size_t whylen);

/*
 * Restores every slot the sampler's table lists (those still pointing at it).
 * Returns the number restored or -errno (why says).
 */
int heap_uninject(struct heap_injection *in, char *why, size_t whylen);

/*
 * Objects loaded since (dlopen): their slots redirected too, the process
 * stopped only when the set of mapped objects changed.  Returns the number
 * of slots newly redirected, or -errno (why says; -ESRCH: gone or exec'd).
 */
int heap_inject_refresh(struct heap_injection *in, char *why, size_t whylen);

/*
 * The loader reported new objects (r_brk, RT_CONSISTENT after RT_ADD) from
 * thread tid, and held: BPF stopped the process there (SIGSTOP, continued
 * here).  Their slots redirected before their constructors run (see
 * heap/dlopen.h): the number of slots, -EAGAIN when that could not be done
 * (not held, no constructor, or it took longer than timeout_ns; nothing
 * changed: heap_inject_refresh then), or another -errno (why says).
 */
int heap_inject_loaded(struct heap_injection *in, int tid, bool held, int64_t timeout_ns, char *why,
		       size_t whylen);

/*
 * The slots the sampler in in->pid lists (redirected, until heap_uninject)
 * and what each held before: how many, or -errno.  For tests.
 */
int heap_inject_slots(const struct heap_injection *in, uint64_t *addrs, uint64_t *origs, int max);

/* The sampler's code size: a slot redirected to it holds base .. base + this. */
uint64_t heap_inject_code_size(void);

#endif
